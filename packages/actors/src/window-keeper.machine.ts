/**
 * A reduce partition's window lifecycle (issue #13, DESIGN §8) as states the inspector and a
 * trace can show. One keeper per reduce partition; its I/O is one long-lived `windowIo` actor
 * (window-io.ts) supplied by the runtime with `.provide()`.
 *
 *   idle ──window.commit(epoch)──▶ committing ──persisted──▶ closing ──closed(n > 0)──▶ emitting ──emitted──▶ forgetting ──forgotten──▶ idle
 *     │                            (ack + window changes      │ closed(0) ──▶ idle     (results written     (their state deleted)
 *     └──window.closeReady────────────────────────────────────┘                          downstream)
 *   any step's windowIo.failed ──▶ failed ──window.commit | window.closeReady──▶ (the same steps again)
 *
 * Takes: `window.commit` (an epoch's ack), `window.closeReady` (at start: windows that closed
 * before a restart), `windowIo.*`.
 * Emits (for the runtime): `windowKeeper.done` (the request finished; `closed` windows emitted),
 * `windowKeeper.failed` (a step failed, or a request came while one was in flight).
 * Keeps: counts only — open windows, the watermark, the last closed count (DESIGN §7: no
 * messages or window contents in the context). A window's state is forgotten only after its
 * results were written; a retry after a failure runs every step again, which the runtime makes
 * idempotent (a committed ack is not committed twice; a repeat emit is dropped by the next
 * buffer's dedup).
 */
import { assertEvent, assign, emit, fromCallback, sendTo, setup } from "xstate";
import type { WindowIoEvent, WindowIoInput, WindowIoRequest, WindowStep } from "./window-io.js";

export interface WindowKeeperInput {
  readonly vertex: string;
  readonly partition: number;
  /** The windows loaded at start, and the stored watermark (null: none yet); unknown until the first commit if left out. */
  readonly openWindows?: number;
  readonly watermark?: number | null;
}

export interface WindowKeeperContext {
  readonly vertex: string;
  readonly partition: number;
  /** The request in flight: the epoch committed, null for a start's close. */
  readonly epoch: number | null;
  readonly openWindows: number;
  readonly watermark: number | null;
  /** How many windows the last close found (emitted, then forgotten). */
  readonly lastClosed: number;
  /** Consecutive failed requests. */
  readonly failures: number;
  readonly failedStep: WindowStep | "busy" | null;
}

/** runtime → keeper: commit an epoch (its ack), then close, emit and forget what its watermark closes. */
export interface WindowCommitEvent {
  readonly type: "window.commit";
  readonly epoch: number;
}
/** runtime → keeper: close, emit and forget what is already closed (at start, after a restart). */
export interface WindowCloseReadyEvent {
  readonly type: "window.closeReady";
}

export type WindowKeeperEvent = WindowCommitEvent | WindowCloseReadyEvent | WindowIoEvent;

/** keeper → runtime, through `actor.on(…)`. */
export type WindowKeeperEmitted =
  | { readonly type: "windowKeeper.done"; readonly epoch: number | null; readonly closed: number }
  | { readonly type: "windowKeeper.failed"; readonly epoch: number | null; readonly step: WindowStep | "busy"; readonly error: unknown };

/** The invoked `windowIo` actor's id: steps are sent to it by this name. */
const ioId = "windowIo";

const request = (step: WindowStep, context: WindowKeeperContext): WindowIoRequest => ({ type: `windowKeeper.${step}`, epoch: context.epoch });

export const windowKeeperMachine = setup({
  types: {
    context: {} as WindowKeeperContext,
    input: {} as WindowKeeperInput,
    events: {} as WindowKeeperEvent,
    emitted: {} as WindowKeeperEmitted,
  },
  actors: {
    /** The partition's window I/O (see window-io.ts), supplied by the runtime: `fromWindowIo(io)`. */
    windowIo: fromCallback<WindowIoRequest, WindowIoInput>(() => {
      throw new Error("windowIo is not provided: supply it with windowKeeperMachine.provide({ actors: { windowIo: fromWindowIo(io) } })");
    }),
  },
  guards: {
    hasClosedWindows: ({ event }) => {
      assertEvent(event, "windowIo.closed");
      return event.count > 0;
    },
  },
  actions: {
    takeCommit: assign(({ event }) => {
      assertEvent(event, "window.commit");
      return { epoch: event.epoch };
    }),
    takeCloseReady: assign({ epoch: null }),
    requestPersist: sendTo(ioId, ({ context }) => request("persist", context)),
    requestClose: sendTo(ioId, ({ context }) => request("close", context)),
    requestEmit: sendTo(ioId, ({ context }) => request("emit", context)),
    requestForget: sendTo(ioId, ({ context }) => request("forget", context)),
    recordPersisted: assign(({ event }) => {
      assertEvent(event, "windowIo.persisted");
      return { openWindows: event.openWindows, watermark: event.watermark };
    }),
    recordClosed: assign(({ event }) => {
      assertEvent(event, "windowIo.closed");
      return { lastClosed: event.count };
    }),
    recordForgotten: assign(({ event }) => {
      assertEvent(event, "windowIo.forgotten");
      return { openWindows: event.openWindows };
    }),
    recordFailure: assign(({ context, event }) => {
      assertEvent(event, "windowIo.failed");
      return { failures: context.failures + 1, failedStep: event.step };
    }),
    clearFailures: assign({ failures: 0, failedStep: null }),
    reportDone: emit(({ context }): WindowKeeperEmitted => ({ type: "windowKeeper.done", epoch: context.epoch, closed: context.lastClosed })),
    reportFailed: emit(({ context, event }): WindowKeeperEmitted => {
      assertEvent(event, "windowIo.failed");
      return { type: "windowKeeper.failed", epoch: context.epoch, step: event.step, error: event.error };
    }),
    // Nothing silent: a request while another is in flight is answered, not dropped.
    refuseBusy: emit(({ context, event }): WindowKeeperEmitted => ({
      type: "windowKeeper.failed",
      epoch: event.type === "window.commit" ? event.epoch : null,
      step: "busy",
      error: new Error(`window keeper of ${context.vertex} partition ${context.partition} is busy with epoch ${String(context.epoch)}: send one request at a time`),
    })),
  },
}).createMachine({
  id: "windowKeeper",
  context: ({ input }) => ({
    vertex: input.vertex,
    partition: input.partition,
    epoch: null,
    openWindows: input.openWindows ?? 0,
    watermark: input.watermark ?? null,
    lastClosed: 0,
    failures: 0,
    failedStep: null,
  }),
  invoke: {
    id: ioId,
    src: "windowIo",
    input: ({ context }): WindowIoInput => ({ vertex: context.vertex, partition: context.partition }),
  },
  on: {
    "window.commit": { actions: "refuseBusy" },
    "window.closeReady": { actions: "refuseBusy" },
    "windowIo.failed": { target: ".failed", actions: ["recordFailure", "reportFailed"] },
  },
  initial: "idle",
  states: {
    idle: {
      on: {
        "window.commit": { target: "committing", actions: "takeCommit" },
        "window.closeReady": { target: "closing", actions: "takeCloseReady" },
      },
    },
    committing: {
      entry: "requestPersist",
      on: { "windowIo.persisted": { target: "closing", actions: "recordPersisted" } },
    },
    closing: {
      entry: "requestClose",
      on: {
        "windowIo.closed": [
          { guard: "hasClosedWindows", target: "emitting", actions: "recordClosed" },
          { target: "idle", actions: ["recordClosed", "clearFailures", "reportDone"] },
        ],
      },
    },
    emitting: {
      entry: "requestEmit",
      on: { "windowIo.emitted": "forgetting" },
    },
    forgetting: {
      entry: "requestForget",
      on: { "windowIo.forgotten": { target: "idle", actions: ["recordForgotten", "clearFailures", "reportDone"] } },
    },
    failed: {
      on: {
        "window.commit": { target: "committing", actions: "takeCommit" },
        "window.closeReady": { target: "closing", actions: "takeCloseReady" },
      },
    },
  },
});

export type WindowKeeperMachine = typeof windowKeeperMachine;
