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

  // Session 11: the patch also makes each step cheaper without changing what it does — a clone that
  // keeps the state nodes reuses their value and tags, eventless selection allocates nothing when
  // nothing is enabled, a single transition skips conflict resolution, a transition's domain and a
  // node's history children are computed once. The first is observable; the rest must not be.
  it("keeps the state value and tags of a step that changes only the context", () => {
    const machine = setup({}).createMachine({
      context: { n: 0 },
      initial: "a",
      states: {
        a: { tags: ["open"], on: { bump: { actions: assign({ n: ({ context }) => context.n + 1 }) }, next: "b" } },
        b: { tags: ["closed"] },
      },
    });
    const actor = createActor(machine).start();
    const before = actor.getSnapshot();
    actor.send({ type: "bump" });
    const after = actor.getSnapshot();
    expect(after.context.n).toBe(1);
    expect(after.value).toBe(before.value);
    expect(after.tags).toBe(before.tags);
    actor.send({ type: "next" });
    expect(actor.getSnapshot().value).toBe("b");
    expect([...actor.getSnapshot().tags]).toEqual(["closed"]);
    actor.stop();
  });

  it("still takes eventless transitions, restores history and resolves parallel regions' conflicts", () => {
    const machine = setup({}).createMachine({
      type: "parallel",
      context: { n: 0 },
      states: {
        counter: {
          initial: "low",
          states: {
            low: { always: { guard: ({ context }) => context.n >= 2, target: "high" } },
            high: {},
          },
          on: { bump: { actions: assign({ n: ({ context }) => context.n + 1 }) } },
        },
        mode: {
          initial: "on",
          states: {
            on: { initial: "x", states: { x: { on: { flip: "y" } }, y: {}, hist: { type: "history" } }, on: { off: "off" } },
            off: { on: { back: "on.hist" } },
          },
        },
      },
    });
    const actor = createActor(machine).start();
    actor.send({ type: "bump" });
    expect(actor.getSnapshot().value).toEqual({ counter: "low", mode: { on: "x" } });
    actor.send({ type: "bump" });
    expect(actor.getSnapshot().value).toEqual({ counter: "high", mode: { on: "x" } });
    actor.send({ type: "flip" });
    actor.send({ type: "off" });
    expect(actor.getSnapshot().value).toEqual({ counter: "high", mode: "off" });
    actor.send({ type: "back" });
    expect(actor.getSnapshot().value).toEqual({ counter: "high", mode: { on: "y" } });
    actor.stop();
  });
});
