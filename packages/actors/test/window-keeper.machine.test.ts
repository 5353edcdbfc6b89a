import { describe, expect, it } from "vitest";
import { createActor, type Actor } from "xstate";
import { fromWindowIo, windowKeeperMachine, type WindowIo, type WindowKeeperEmitted } from "@weir/actors";

type Keeper = Actor<typeof windowKeeperMachine>;

/** A window I/O that records each step and closes `closeCounts` windows on successive closes. */
function recordingIo(closeCounts: number[], failOnce?: "persist" | "close" | "emit" | "forget") {
  const steps: string[] = [];
  let open = 5;
  let failed = false;
  const step = async <T>(name: "persist" | "close" | "emit" | "forget", value: () => T): Promise<T> => {
    steps.push(name);
    if (name === failOnce && !failed) {
      failed = true;
      throw new Error(`${name} failed`);
    }
    return value();
  };
  const io: WindowIo = {
    persist: (_, epoch) => step("persist", () => ({ openWindows: open, watermark: epoch * 1000 })),
    close: () => step("close", () => closeCounts.shift() ?? 0),
    emit: () => step("emit", () => undefined),
    forget: () => step("forget", () => (open -= 1)),
  };
  return { io, steps };
}

function start(io: WindowIo): { keeper: Keeper; answers: WindowKeeperEmitted[]; next: () => Promise<WindowKeeperEmitted> } {
  const keeper = createActor(windowKeeperMachine.provide({ actors: { windowIo: fromWindowIo(io) } }), {
    input: { vertex: "counts", partition: 2, openWindows: 5, watermark: null },
  });
  const answers: WindowKeeperEmitted[] = [];
  let waiting: ((answer: WindowKeeperEmitted) => void) | undefined;
  const take = (answer: WindowKeeperEmitted) => {
    answers.push(answer);
    waiting?.(answer);
    waiting = undefined;
  };
  keeper.on("windowKeeper.done", take);
  keeper.on("windowKeeper.failed", take);
  keeper.start();
  const next = () => new Promise<WindowKeeperEmitted>((resolve) => (waiting = resolve));
  return { keeper, answers, next };
}

describe("window keeper machine", () => {
  it("commits, closes, emits and forgets, and keeps counts only", async () => {
    const { io, steps } = recordingIo([1]);
    const { keeper, next } = start(io);
    const states: string[] = [];
    keeper.subscribe((snapshot) => states.push(String(snapshot.value)));
    const answer = next();
    keeper.send({ type: "window.commit", epoch: 3 });
    expect(await answer).toEqual({ type: "windowKeeper.done", epoch: 3, closed: 1 });
    expect(steps).toEqual(["persist", "close", "emit", "forget"]);
    expect(states).toEqual(["committing", "closing", "emitting", "forgetting", "idle"]);
    const { context } = keeper.getSnapshot();
    expect(context).toMatchObject({ epoch: 3, openWindows: 4, watermark: 3000, lastClosed: 1, failures: 0 });
    expect(Object.values(context).every((value) => value === null || typeof value !== "object")).toBe(true);
    keeper.stop();
  });

  it("skips emit and forget when no window closes", async () => {
    const { io, steps } = recordingIo([0]);
    const { keeper, next } = start(io);
    const answer = next();
    keeper.send({ type: "window.commit", epoch: 1 });
    expect(await answer).toEqual({ type: "windowKeeper.done", epoch: 1, closed: 0 });
    expect(steps).toEqual(["persist", "close"]);
    expect(keeper.getSnapshot().value).toBe("idle");
    keeper.stop();
  });

  it("closes at start without a commit (windows closed before a restart)", async () => {
    const { io, steps } = recordingIo([2]);
    const { keeper, next } = start(io);
    const answer = next();
    keeper.send({ type: "window.closeReady" });
    expect(await answer).toEqual({ type: "windowKeeper.done", epoch: null, closed: 2 });
    expect(steps).toEqual(["close", "emit", "forget"]);
    keeper.stop();
  });

  it.each(["persist", "close", "emit", "forget"] as const)("a failed %s is reported, and a repeated commit runs every step again", async (failing) => {
    const { io, steps } = recordingIo([1, 1], failing);
    const { keeper, next } = start(io);
    let answer = next();
    keeper.send({ type: "window.commit", epoch: 7 });
    const failure = await answer;
    expect(failure).toMatchObject({ type: "windowKeeper.failed", epoch: 7, step: failing });
    expect(keeper.getSnapshot().value).toBe("failed");
    expect(keeper.getSnapshot().context).toMatchObject({ failures: 1, failedStep: failing });
    answer = next();
    keeper.send({ type: "window.commit", epoch: 7 });
    expect(await answer).toMatchObject({ type: "windowKeeper.done", epoch: 7 });
    expect(steps.slice(-4)).toEqual(["persist", "close", "emit", "forget"]);
    expect(keeper.getSnapshot().context).toMatchObject({ failures: 0, failedStep: null });
    keeper.stop();
  });

  it("answers a request sent while another is in flight, instead of dropping it", async () => {
    let release: (() => void) | undefined;
    const io: WindowIo = {
      persist: () => new Promise((resolve) => (release = () => resolve({ openWindows: 0, watermark: null }))),
      close: async () => 0,
      emit: async () => undefined,
      forget: async () => 0,
    };
    const { keeper, answers, next } = start(io);
    keeper.send({ type: "window.commit", epoch: 1 });
    keeper.send({ type: "window.commit", epoch: 2 });
    expect(answers).toEqual([expect.objectContaining({ type: "windowKeeper.failed", epoch: 2, step: "busy" })]);
    const done = next();
    release?.();
    expect(await done).toEqual({ type: "windowKeeper.done", epoch: 1, closed: 0 });
    keeper.stop();
  });
});
