/**
 * A partition reader's I/O as one long-lived actor: the reader invokes it once, for its whole
 * life. Reads stream: `reader.read` grants a credit (`input.max` entries, at most the room left in
 * the reader's window) and the actor reads on by itself, one read after another, until the credit
 * is used up, the input ends, or the reader asks it to pause; each read with something to say is
 * one `readerIo.batch`, and the last of a grant says `done`. Acks are one request, one answer.
 *
 *   reader ──reader.read(max = credit, …)──▶ readerIo ──reader.batchRead…──▶ batcher   (new entries: handed over here)
 *                                            readerIo ──readerIo.batch{done, handedOver} | readerIo.readFailed──▶ reader
 *   reader ──reader.credit(n) (a seal)─────▶ readerIo     (the running grant's credit grows by n)
 *   reader ──reader.pause (drain)──────────▶ readerIo     (the read in flight ends the grant: done)
 *   reader ──reader.ack(epoch, offsets)────▶ readerIo ──readerIo.acked(epoch) | readerIo.ackFailed──▶ reader
 *
 * Why a credit and not a request per read (issue 12): a request per read was one event per read,
 * about two per partition-epoch, and an empty read (an idle partition, every `readTimeout`) cost
 * a request and an answer. Now reads cost only their answers, an empty read nothing (unless it
 * moves the watermark, ends the input or ends the pending pages), and a grant is sent only when
 * the previous one is used up. The credit keeps the window's bound: the reader never holds more
 * than `readBatchSize` unsealed entries. A seal while a grant runs adds the entries it frees to the
 * grant's credit (`reader.credit`), so in a steady stream a grant goes on across epochs: the credit
 * left is always `readBatchSize` minus what is handed over and not sealed. A read's credit is judged
 * after its hand-over, which may bring a seal with it (the read filled the epoch and the close ran
 * within the hand-over): then the grant goes on instead of ending on a window that is free again.
 *
 * Why the batcher directly (issue 12): the reader's step per read only relayed the batch (one
 * event in, one out). The reader is told what it needs when the grant ends: how many entries went
 * over (`handedOver`), the watermark, the end of stream. It still owns the offsets: the batcher's
 * SEALED brings them to it, and it acks them. Pending pages (after a restart) still go through the
 * reader, which tracks where they end; so does everything when no batcher is in the system (a reader
 * run on its own).
 *
 * Why `done` and `reader.pause` (the drain): the reader reports `reader.draining` with the count
 * of entries no sealed epoch holds yet, and the drain's last close relies on it. A read the actor
 * started on its own could answer after that report, so on a drain the reader sends
 * `reader.pause` and waits for the answer that says `done`: after it, nothing more comes.
 *
 * The pending pages (after a restart, `fromPending`) go on here as the reader would ask for them:
 * each page after the last offset of the previous one, new entries once a page comes back short
 * (then with the reader's `readTimeoutMs`); the answer that ends them says `pendingDone`, and an
 * answer's `endOfStream` counts only once they are over, so the reader needs no rule of its own.
 */
import { fromCallback, type AnyActorRef, type CallbackActorLogic, type EventObject } from "xstate";
import { actorIds, type BatchReadEvent } from "./epoch-protocol.js";
import type { AckInput, ReadBatchInput, ReadBatchOutput } from "./partition-reader.types.js";
import { isNewerWatermark, laterWatermark } from "./watermark.js";

/**
 * reader → readerIo: read on until `input.max` entries were delivered (the credit), starting with
 * `input`. Sent only when no grant is running (none yet, or the last answer said `done`).
 */
export interface ReadRequest {
  readonly type: "reader.read";
  readonly input: ReadBatchInput;
}

/**
 * reader → readerIo: an epoch was sealed while a grant runs, freeing `entries` of the window: the
 * running grant's credit grows by that much, so the grant goes on instead of ending and being
 * granted again (issue 12, session 8: one answer and one reader step per partition-epoch fewer).
 * Without a running grant (the last answer said `done`, or is on its way) it is ignored: the reader
 * counts the seal into the next grant itself. A `readerIo` may ignore it altogether: its grants then
 * end when the credit they started with is used up, as before.
 */
export interface CreditRequest {
  readonly type: "reader.credit";
  readonly entries: number;
}

/** reader → readerIo: stop after the read in flight (a drain); that read's answer says `done`. */
export interface PauseRequest {
  readonly type: "reader.pause";
}

/** reader → readerIo: acknowledge an epoch's offsets (one ack outstanding at a time). */
export interface AckRequest {
  readonly type: "reader.ack";
  readonly input: AckInput;
}

export type ReaderIoRequest = ReadRequest | CreditRequest | PauseRequest | AckRequest;

/** readerIo → reader: a read's answer (the last of a grant with `done`), or an ack's. */
export type ReaderIoEvent =
  | ({
      readonly type: "readerIo.batch";
      /** The last answer of its grant: nothing more comes until the next `reader.read`. */
      readonly done?: true;
      /** The pending pages are over (this page came back short): reads go on with new entries. */
      readonly pendingDone?: true;
      /**
       * Entries of this grant the actor handed to the batcher itself (`reader.batchRead`) since
       * its previous answer, not carried in `entries`; their watermark went along as well. The
       * reader counts them into its window as if it had handed them over.
       */
      readonly handedOver?: number;
    } & ReadBatchOutput)
  | { readonly type: "readerIo.readFailed"; readonly error: unknown; readonly handedOver?: number }
  | { readonly type: "readerIo.acked"; readonly epoch: number }
  | { readonly type: "readerIo.ackFailed"; readonly epoch: number; readonly error: unknown };

/** What the `readerIo` actor is started with. */
export interface ReaderIoInput {
  readonly vertex: string;
  readonly partition: number;
  /** How long a read of new entries may wait; pending pages are read without waiting. */
  readonly readTimeoutMs: number;
}

/** The two operations a reader needs from its input buffer. */
export interface PartitionIo {
  /** One read of at most `input.max` entries, waiting at most `input.timeoutMs`; aborted when the reader stops. */
  read(input: ReadBatchInput, signal: AbortSignal): Promise<ReadBatchOutput>;
  /** Acknowledges (commits) offsets; resolves once durable. */
  ack(input: AckInput): Promise<void>;
}

export type ReaderIoLogic = CallbackActorLogic<ReaderIoRequest, ReaderIoInput>;

/** Where a grant's reads are after one answer. */
interface ReadProgress {
  /** The pending pages are over: the read came back short. */
  readonly pendingDone: boolean;
  /** The input will never have more (only once the pending pages are over). */
  readonly endOfStream: boolean;
}

function readProgress(input: Pick<ReadBatchInput, "fromPending">, credit: number, output: ReadBatchOutput): ReadProgress {
  const pendingDone = input.fromPending && output.entries.length < credit;
  return { pendingDone, endOfStream: output.endOfStream && (!input.fromPending || pendingDone) };
}

/** A `readerIo.batch` being built (its optional fields set only when they say something). */
interface BatchAnswer {
  type: "readerIo.batch";
  entries: ReadBatchOutput["entries"];
  endOfStream: boolean;
  watermark?: number;
  done?: true;
  pendingDone?: true;
  handedOver?: number;
}

/**
 * Sends `event` to `target` as `source` did, so inspection (`--inspect`, `--trace`, metrics)
 * shows the reader's I/O actor as its sender: XState's own `sendBack` goes through the system's
 * `_relay` the same way. Falls back to a plain `send` where a system has no `_relay`.
 */
function relay(system: object, source: AnyActorRef, target: AnyActorRef, event: EventObject): void {
  const internal = system as { _relay?: (from: AnyActorRef, to: AnyActorRef, e: EventObject) => void };
  if (typeof internal._relay === "function") internal._relay(source, target, event);
  else target.send(event);
}

/**
 * A running grant: the next read's input (its `max` is the credit left when that read started),
 * the credit added since by seals (`reader.credit`), and whether to pause.
 */
interface Grant {
  readonly input: ReadBatchInput;
  added: number;
  paused: boolean;
}

function attempt<T>(run: () => Promise<T>): Promise<T> {
  try {
    return run();
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Adapts a `read` and an `ack` function to the reader's `readerIo` actor: reads stream within
 * the reader's credit (see above). A read still in flight when the reader stops is aborted
 * through the signal; answers after the stop are dropped.
 *
 * @example
 * const readerIo = fromPartitionIo({ read: async ({ max }) => ({ entries: [], endOfStream: true }), ack: async () => {} });
 * const reader = partitionReaderMachine.provide({ actors: { readerIo } });
 */
export function fromPartitionIo(io: PartitionIo): ReaderIoLogic {
  return fromCallback<ReaderIoRequest, ReaderIoInput>(({ input: { vertex, partition, readTimeoutMs }, receive, sendBack, self, system }) => {
    // Created on the first read, not per read: one per reader's life.
    let controller: AbortController | undefined;
    let stopped = false;
    // The running grant: the next read's input (its `max` is the credit left), and whether the
    // reader asked to pause. Undefined between grants.
    let grant: Grant | undefined;
    let reading = false;
    // The latest watermark sent: an empty read is news only when it moves it.
    let watermark: number | undefined;
    // Entries handed to the batcher since the last answer to the reader (its window counts them).
    let handedOver = 0;
    const batcherId = actorIds.batcher(vertex, partition);
    const send = (event: ReaderIoEvent) => {
      if (!stopped) sendBack(event);
    };
    // The read after `current`'s, with the credit left: pending pages go on after the last offset
    // read, and new entries (with the reader's wait) once a page came back short.
    const nextGrant = (current: Grant, output: ReadBatchOutput, pendingDone: boolean, credit: number): Grant => {
      const { input } = current;
      const last = output.entries[output.entries.length - 1];
      const fromPending = input.fromPending && !pendingDone;
      const after = input.fromPending && last !== undefined ? last.offset : input.after;
      return {
        paused: current.paused,
        added: 0,
        input: {
          vertex: input.vertex,
          partition: input.partition,
          max: credit,
          timeoutMs: fromPending ? 0 : readTimeoutMs,
          fromPending,
          ...(fromPending && after !== undefined ? { after } : {}),
        },
      };
    };
    const readNext = () => {
      const current = grant;
      if (current === undefined || stopped) return;
      const { input } = current;
      controller ??= new AbortController();
      reading = true;
      attempt(() => io.read(input, controller!.signal)).then(
        (output) => {
          reading = false;
          const { entries } = output;
          const { pendingDone, endOfStream } = readProgress(input, input.max, output);
          const advanced = isNewerWatermark(output.watermark, watermark);
          watermark = laterWatermark(watermark, output.watermark);
          // New entries go to the batcher from here (issue 12: the reader's step and event per read
          // were only a relay); pending pages still go through the reader, which tracks where they
          // end. Without a batcher in the system (a reader run on its own) everything goes to the reader.
          const batcher = input.fromPending || stopped ? undefined : (system.get(batcherId) as AnyActorRef | undefined);
          if (batcher !== undefined && (entries.length > 0 || advanced)) {
            const batch: BatchReadEvent = advanced
              ? { type: "reader.batchRead", partition, entries, watermark: output.watermark }
              : { type: "reader.batchRead", partition, entries };
            relay(system, self, batcher, batch);
            handedOver += entries.length;
          }
          // Judged after the hand-over: seals that came while the read was in flight, or that the
          // hand-over itself led to (it filled the epoch, the supervisor closed it and the reader
          // took the seal, all within the relay), add to what is left of the credit, so a grant that
          // fills the window goes on when the window is freed at once.
          const credit = input.max - entries.length + current.added;
          const done = endOfStream || credit <= 0 || current.paused;
          // The grant moves on before the answer goes out: the reader takes the answer at once
          // and may send a new grant while it does.
          if (grant === current) grant = done ? undefined : nextGrant(current, output, pendingDone, credit);
          if (batcher !== undefined) {
            if (done) {
              const answer: BatchAnswer = { type: "readerIo.batch", entries: [], endOfStream, done: true, handedOver };
              if (watermark !== undefined) answer.watermark = watermark;
              handedOver = 0;
              send(answer);
            }
          } else if (entries.length > 0 || advanced || done || pendingDone) {
            // Fields only when set: the common answer stays `{ type, entries, endOfStream }`.
            const batch: BatchAnswer = { type: "readerIo.batch", entries, endOfStream };
            if (output.watermark !== undefined) batch.watermark = output.watermark;
            if (done) batch.done = true;
            if (pendingDone) batch.pendingDone = true;
            if (handedOver > 0) batch.handedOver = handedOver;
            handedOver = 0;
            send(batch);
          }
          if (!reading) readNext();
        },
        (error: unknown) => {
          reading = false;
          grant = undefined;
          // The grant ends here: what it handed over already counts into the reader's window.
          const failed: Extract<ReaderIoEvent, { type: "readerIo.readFailed" }> = handedOver > 0 ? { type: "readerIo.readFailed", error, handedOver } : { type: "readerIo.readFailed", error };
          handedOver = 0;
          send(failed);
        },
      );
    };
    receive((request) => {
      switch (request.type) {
        case "reader.read":
          grant = { input: request.input, added: 0, paused: false };
          if (!reading) readNext();
          return;
        case "reader.credit":
          // A paused grant ends with the read in flight whatever its credit; no grant: the reader
          // counts the seal into its next one.
          if (grant !== undefined && !grant.paused) grant.added += request.entries;
          return;
        case "reader.pause":
          // Nothing in flight: the reader knows (the last answer said done); nothing to answer.
          if (grant !== undefined) grant.paused = true;
          return;
        case "reader.ack": {
          const { epoch } = request.input;
          attempt(() => io.ack(request.input)).then(
            () => send({ type: "readerIo.acked", epoch }),
            (error: unknown) => send({ type: "readerIo.ackFailed", epoch, error }),
          );
          return;
        }
      }
    });
    return () => {
      stopped = true;
      controller?.abort();
    };
  });
}
