/**
 * A partition reader's I/O as one long-lived actor: the reader invokes it once, for its whole
 * life, and streams requests to it (`reader.read`, `reader.ack`); it answers each with one
 * event (`readerIo.batch` / `readerIo.readFailed`, `readerIo.acked` / `readerIo.ackFailed`).
 *
 *   reader ──reader.read(max, timeout…)──▶ readerIo ──readerIo.batch(entries) | readerIo.readFailed──▶ reader
 *   reader ──reader.ack(epoch, offsets)──▶ readerIo ──readerIo.acked(epoch) | readerIo.ackFailed──▶ reader
 *
 * Why not one `fromPromise` per read and per ack (as before issue 12): each of those created an
 * actor, an `AbortController`, and three XState events (`xstate.init`, the promise's resolve, the
 * `done` event) — per read, about twice per partition-epoch. Here a read costs two events (request,
 * answer) and no actor. The reader keeps at most one read and one ack outstanding, so answers need
 * no correlation beyond their type; an ack answer carries its epoch all the same.
 */
import { fromCallback, type CallbackActorLogic } from "xstate";
import type { AckInput, ReadBatchInput, ReadBatchOutput } from "./partition-reader.types.js";

/** reader → readerIo: read at most `input.max` entries (one read outstanding at a time). */
export interface ReadRequest {
  readonly type: "reader.read";
  readonly input: ReadBatchInput;
}

/** reader → readerIo: acknowledge an epoch's offsets (one ack outstanding at a time). */
export interface AckRequest {
  readonly type: "reader.ack";
  readonly input: AckInput;
}

export type ReaderIoRequest = ReadRequest | AckRequest;

/** readerIo → reader: the answer to a read, or to an ack. */
export type ReaderIoEvent =
  | ({ readonly type: "readerIo.batch" } & ReadBatchOutput)
  | { readonly type: "readerIo.readFailed"; readonly error: unknown }
  | { readonly type: "readerIo.acked"; readonly epoch: number }
  | { readonly type: "readerIo.ackFailed"; readonly epoch: number; readonly error: unknown };

/** What the `readerIo` actor is started with. */
export interface ReaderIoInput {
  readonly vertex: string;
  readonly partition: number;
}

/** The two operations a reader needs from its input buffer. */
export interface PartitionIo {
  /** One read of at most `input.max` entries, waiting at most `input.timeoutMs`; aborted when the reader stops. */
  read(input: ReadBatchInput, signal: AbortSignal): Promise<ReadBatchOutput>;
  /** Acknowledges (commits) offsets; resolves once durable. */
  ack(input: AckInput): Promise<void>;
}

export type ReaderIoLogic = CallbackActorLogic<ReaderIoRequest, ReaderIoInput>;

function attempt<T>(run: () => Promise<T>): Promise<T> {
  try {
    return run();
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Adapts a `read` and an `ack` function to the reader's `readerIo` actor. A read still in
 * flight when the reader stops is aborted through the signal; answers after the stop are dropped.
 *
 * @example
 * const readerIo = fromPartitionIo({ read: async ({ max }) => ({ entries: [], endOfStream: true }), ack: async () => {} });
 * const reader = partitionReaderMachine.provide({ actors: { readerIo } });
 */
export function fromPartitionIo(io: PartitionIo): ReaderIoLogic {
  return fromCallback<ReaderIoRequest, ReaderIoInput>(({ receive, sendBack }) => {
    // Created on the first read, not per read: one per reader's life.
    let controller: AbortController | undefined;
    let stopped = false;
    const send = (event: ReaderIoEvent) => {
      if (!stopped) sendBack(event);
    };
    receive((request) => {
      if (request.type === "reader.read") {
        controller ??= new AbortController();
        const signal = controller.signal;
        attempt(() => io.read(request.input, signal)).then(
          (output) =>
            send(
              output.watermark === undefined
                ? { type: "readerIo.batch", entries: output.entries, endOfStream: output.endOfStream }
                : { type: "readerIo.batch", entries: output.entries, endOfStream: output.endOfStream, watermark: output.watermark },
            ),
          (error: unknown) => send({ type: "readerIo.readFailed", error }),
        );
        return;
      }
      const { epoch } = request.input;
      attempt(() => io.ack(request.input)).then(
        () => send({ type: "readerIo.acked", epoch }),
        (error: unknown) => send({ type: "readerIo.ackFailed", epoch, error }),
      );
    });
    return () => {
      stopped = true;
      controller?.abort();
    };
  });
}
