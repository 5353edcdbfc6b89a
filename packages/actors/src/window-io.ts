/**
 * A reduce partition's window I/O as one long-lived actor, like the reader's `readerIo`: the
 * window keeper invokes it once and sends it one request per step of a commit; it answers each
 * with one event. The windows themselves stay in the runtime (DESIGN §7): requests and answers
 * carry counts only.
 *
 *   keeper ──windowKeeper.persist(epoch)──▶ windowIo ──windowIo.persisted(open, watermark) | windowIo.failed──▶ keeper
 *   keeper ──windowKeeper.close────────────▶ windowIo ──windowIo.closed(count)              | windowIo.failed──▶ keeper
 *   keeper ──windowKeeper.emit─────────────▶ windowIo ──windowIo.emitted                    | windowIo.failed──▶ keeper
 *   keeper ──windowKeeper.forget───────────▶ windowIo ──windowIo.forgotten(open)            | windowIo.failed──▶ keeper
 */
import { fromCallback, type CallbackActorLogic } from "xstate";

/** The steps of a window commit, in order. */
export type WindowStep = "persist" | "close" | "emit" | "forget";

/** keeper → windowIo: perform one step for partition `input.partition` (one outstanding at a time). */
export interface WindowIoRequest {
  readonly type: `windowKeeper.${WindowStep}`;
  /** The epoch being committed; null for the close that runs at start (windows closed before a restart). */
  readonly epoch: number | null;
}

/** windowIo → keeper: the answer to a step. */
export type WindowIoEvent =
  | { readonly type: "windowIo.persisted"; readonly openWindows: number; readonly watermark: number | null }
  | { readonly type: "windowIo.closed"; readonly count: number }
  | { readonly type: "windowIo.emitted" }
  | { readonly type: "windowIo.forgotten"; readonly openWindows: number }
  | { readonly type: "windowIo.failed"; readonly step: WindowStep; readonly error: unknown };

/** What the `windowIo` actor is started with. */
export interface WindowIoInput {
  readonly vertex: string;
  readonly partition: number;
}

/** The runtime's four operations on a partition's windows (reduce-vertex.ts). */
export interface WindowIo {
  /** Acks the epoch's input and persists its window changes and watermark in one atomic step. */
  persist(partition: number, epoch: number): Promise<{ readonly openWindows: number; readonly watermark: number | null }>;
  /** Finds the windows the watermark closes and computes their results; resolves with how many. */
  close(partition: number): Promise<number>;
  /** Writes the closed windows' results downstream. */
  emit(partition: number): Promise<void>;
  /** Deletes the emitted windows' state; resolves with how many windows stay open. */
  forget(partition: number): Promise<number>;
}

export type WindowIoLogic = CallbackActorLogic<WindowIoRequest, WindowIoInput>;

function attempt<T>(run: () => Promise<T>): Promise<T> {
  try {
    return run();
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Adapts the runtime's window operations to the keeper's `windowIo` actor. Answers after the
 * keeper stopped are dropped.
 *
 * @example
 * const keeper = windowKeeperMachine.provide({ actors: { windowIo: fromWindowIo(io) } });
 */
export function fromWindowIo(io: WindowIo): WindowIoLogic {
  return fromCallback<WindowIoRequest, WindowIoInput>(({ input, receive, sendBack }) => {
    let stopped = false;
    const send = (event: WindowIoEvent) => {
      if (!stopped) sendBack(event);
    };
    const fail = (step: WindowStep) => (error: unknown) => send({ type: "windowIo.failed", step, error });
    const { partition } = input;
    receive((request) => {
      switch (request.type) {
        case "windowKeeper.persist":
          attempt(() => io.persist(partition, request.epoch ?? -1)).then(
            ({ openWindows, watermark }) => send({ type: "windowIo.persisted", openWindows, watermark }),
            fail("persist"),
          );
          return;
        case "windowKeeper.close":
          attempt(() => io.close(partition)).then((count) => send({ type: "windowIo.closed", count }), fail("close"));
          return;
        case "windowKeeper.emit":
          attempt(() => io.emit(partition)).then(() => send({ type: "windowIo.emitted" }), fail("emit"));
          return;
        case "windowKeeper.forget":
          attempt(() => io.forget(partition)).then((openWindows) => send({ type: "windowIo.forgotten", openWindows }), fail("forget"));
          return;
      }
    });
    return () => {
      stopped = true;
    };
  });
}
