import { describe, expect, it } from "vitest";
import { assign, createActor, sendTo, setup } from "xstate";

// patches/xstate@5.33.3.patch (issue 12, session 10): XState's microstep collects every action it
// executes — with its { context, event, self, system } — into a per-step list that a running actor
// never reads. V8 pretenured those lists, and dead in the old generation they kept every step's
// event and context (and the message batches on them) alive across scavenges: nearly every message
// was promoted and died in the old generation (docs/design-notes.md, "Issue 12, session 10 — gcpin").
// The patch empties the lists once the macrostep is done. This checks it is applied: the lists an
// actor's step pushed its actions into are empty when `send` returns.
describe("xstate, as patched for Weir", () => {
  it("leaves no executed action in a running actor's microstep lists after the step", () => {
    const child = setup({}).createMachine({ on: { ping: {} } });
    const machine = setup({ actors: { child } }).createMachine({
      context: { batch: [] as unknown[] },
      invoke: { id: "child", src: "child" },
      on: { go: { actions: [assign({ batch: ({ event }) => (event as unknown as { batch: unknown[] }).batch }), sendTo("child", { type: "ping" }), () => undefined] } },
    });
    const actor = createActor(machine).start();
    const lists = new Set<unknown[]>();
    const push = Array.prototype.push;
    // Records the arrays XState pushes executed actions into (objects carrying `info.event`) during the step.
    Array.prototype.push = function (this: unknown[], ...items: unknown[]) {
      if (items.some((item) => (item as { info?: { event?: { type?: string } } } | null)?.info?.event?.type === "go")) lists.add(this);
      return push.apply(this, items);
    };
    try {
      actor.send({ type: "go", batch: [1, 2, 3] });
    } finally {
      Array.prototype.push = push;
    }
    expect(lists.size).toBeGreaterThan(0);
    for (const list of lists) expect(list).toHaveLength(0);
    actor.stop();
  });
});
