/**
 * An AbortController whose signal records the type of every listener added to it: the buffers'
 * tests check that a reader's long-lived signal gets one listener however many of its reads wait
 * (issue 12: a listener per wait kept those reads' batches alive through scavenges).
 */
export function listenedController(): { readonly controller: AbortController; readonly added: readonly string[] } {
  const controller = new AbortController();
  const added: string[] = [];
  const add = controller.signal.addEventListener.bind(controller.signal);
  controller.signal.addEventListener = (...args: Parameters<typeof add>) => {
    added.push(args[0]);
    add(...args);
  };
  return { controller, added };
}
