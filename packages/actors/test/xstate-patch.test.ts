import { describe, expect, it } from "vitest";
import { assign, createActor, enqueueActions, getMicrosteps, sendTo, setup, transition, type InspectionEvent } from "xstate";

// patches/xstate@5.33.3.patch (issue 12, session 10): XState's microstep collects every action it
// executes — with its { context, event, self, system } — into a per-step list that a running actor
// never reads. V8 pretenured those lists, and dead in the old generation they kept every step's
// event and context (and the message batches on them) alive across scavenges: nearly every message
// was promoted and died in the old generation (docs/design-notes.md, "Issue 12, session 10 — gcpin").
// Session 10's patch emptied the lists once the macrostep was done; since session 12 a running actor's
// step (StateMachine.transition) builds none at all, nor the executor wrapper per microstep that
// filled them. What reads them still gets them: getMicrosteps, and the pure transition().
describe("xstate, as patched for Weir", () => {
  it("builds no list of executed actions in a running actor's step, and the pure functions still return them", () => {
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
    let microsteps: ReturnType<typeof getMicrosteps> = [];
    let pure: ReturnType<typeof transition> | undefined;
    try {
      actor.send({ type: "go", batch: [1, 2, 3] });
      expect(lists.size).toBe(0);
      microsteps = getMicrosteps(machine, actor.getSnapshot(), { type: "go", batch: [4] } as never);
      pure = transition(machine, actor.getSnapshot(), { type: "go", batch: [5] } as never);
    } finally {
      Array.prototype.push = push;
    }
    expect(actor.getSnapshot().context.batch).toEqual([1, 2, 3]);
    // The assign resolves into the snapshot; the send and the custom action are what is executed.
    expect(microsteps.flatMap(([, actions]) => actions.map((action) => action.type))).toEqual(["xstate.sendTo", "(anonymous)"]);
    expect(pure![1].map((action: { readonly type: string }) => action.type)).toEqual(["xstate.sendTo", "(anonymous)"]);
    actor.stop();
  });

  // Session 12: the inspection events (@xstate.event, .microstep, .action, .snapshot) are objects built
  // for every relay, microstep, action and step; with nothing inspecting the system nobody sees them.
  it("builds no inspection event while nothing inspects the system, and all of them while something does", () => {
    const child = setup({}).createMachine({ on: { ping: {} } });
    const machine = setup({ actors: { child } }).createMachine({
      context: { n: 0 },
      invoke: { id: "child", src: "child" },
      initial: "a",
      states: {
        a: { on: { go: { target: "b", actions: [assign({ n: ({ context }) => context.n + 1 }), sendTo("child", { type: "ping" })] } } },
        b: { on: { go: { target: "a", actions: [assign({ n: ({ context }) => context.n + 1 }), sendTo("child", { type: "ping" })] } } },
      },
    });
    const actor = createActor(machine).start();
    const built: string[] = [];
    const system = actor.system as unknown as { _sendInspectionEvent: (event: InspectionEvent) => void };
    const send = system._sendInspectionEvent;
    system._sendInspectionEvent = (event) => (built.push(event.type), send(event));
    actor.send({ type: "go" });
    expect(built).toEqual([]);
    const seen: string[] = [];
    const subscription = actor.system.inspect((event) => seen.push(event.type));
    actor.send({ type: "go" });
    expect(new Set(seen)).toEqual(new Set(["@xstate.event", "@xstate.microstep", "@xstate.action", "@xstate.snapshot"]));
    subscription.unsubscribe();
    built.length = 0;
    actor.send({ type: "go" });
    expect(built).toEqual([]);
    expect(actor.getSnapshot().context.n).toBe(3);
    actor.stop();
  });

  // Session 12: a step selects its transition without an array of the state value's keys per level,
  // a list of the chosen transition's actions (nobody read it) or a flatMap copy of one transition's
  // actions. Counted by the calls a step of a nested state makes (none left); what it does is the same.
  it("selects and runs a nested state's transition without listing keys or copying its actions", () => {
    const machine = setup({
      types: { context: {} as { n: number } },
      actions: { bump: assign(({ context }) => ({ n: context.n + 1 })) },
    }).createMachine({
      context: { n: 0 },
      initial: "outer",
      states: { outer: { initial: "x", states: { x: { on: { go: { target: "y", actions: "bump" } } }, y: { on: { go: { target: "x", actions: "bump" } } } } } },
    });
    const actor = createActor(machine).start();
    // Once through both transitions first: what XState computes once per state node (its history
    // children, its candidates per event) is not what this counts.
    actor.send({ type: "go" });
    actor.send({ type: "go" });
    const keys = Object.keys;
    const push = Array.prototype.push;
    const flatMap = Array.prototype.flatMap;
    let keysCalls = 0;
    let actionPushes = 0;
    let transitionFlatMaps = 0;
    Object.keys = (object: object) => ((keysCalls += 1), keys(object));
    Array.prototype.push = function (this: unknown[], ...items: unknown[]) {
      if (items.includes("bump")) actionPushes += 1;
      return push.apply(this, items);
    };
    Array.prototype.flatMap = function (this: unknown[], ...args: Parameters<typeof flatMap>) {
      if (this.some((item) => (item as { source?: unknown } | null)?.source !== undefined)) transitionFlatMaps += 1;
      return flatMap.apply(this, args) as never;
    } as typeof flatMap;
    try {
      actor.send({ type: "go" });
      actor.send({ type: "go" });
    } finally {
      Object.keys = keys;
      Array.prototype.push = push;
      Array.prototype.flatMap = flatMap;
    }
    expect({ keysCalls, actionPushes, transitionFlatMaps }).toEqual({ keysCalls: 0, actionPushes: 0, transitionFlatMaps: 0 });
    expect(actor.getSnapshot().value).toEqual({ outer: "x" });
    expect(actor.getSnapshot().context.n).toBe(4);
    actor.stop();
  });

  // Session 12: enqueueActions made an `enqueue` and nine helper closures (assign, raise, sendTo, …) on
  // every call; one set now serves every call, each pushing to the list of the call being collected —
  // also when another machine's enqueueActions is collected inside it (a synchronous send from `collect`).
  it("gives every enqueueActions the same enqueue, and each call, nested ones too, its own actions", () => {
    const enqueues = new Set<unknown>();
    const counter = setup({ types: { context: {} as { n: number } } });
    const inner = createActor(
      counter.createMachine({
        context: { n: 0 },
        on: { poke: { actions: enqueueActions(({ enqueue }) => (enqueues.add(enqueue), enqueue.assign(({ context }) => ({ n: context.n + 1 })))) } },
      }),
    ).start();
    const outer = createActor(
      counter.createMachine({
        context: { n: 0 },
        on: {
          go: {
            actions: enqueueActions(({ enqueue }) => {
              enqueues.add(enqueue);
              enqueue.assign(({ context }) => ({ n: context.n + 1 }));
              inner.send({ type: "poke" });
              enqueue.assign(({ context }) => ({ n: context.n + 10 }));
            }),
          },
        },
      }),
    ).start();
    outer.send({ type: "go" });
    outer.send({ type: "go" });
    expect(outer.getSnapshot().context.n).toBe(22);
    expect(inner.getSnapshot().context.n).toBe(2);
    expect(enqueues.size).toBe(1);
    outer.stop();
    inner.stop();
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
