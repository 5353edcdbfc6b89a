/**
 * Sink adapters as actor logic. A sink session invokes its `sinkWriter` once, for its whole life,
 * and streams attempts to it; the writer answers each with `sinkIo.*` frames (DESIGN §7: I/O
 * actors are long-lived and stream results back as events, no actor per attempt).
 *
 *   session ──sinkWriter.write(epoch, attempt, messages)──▶ sinkWriter ──sinkIo.* frames──▶ session
 *   session ──sinkWriter.cancel (left the attempt early)──▶ sinkWriter   (aborts it, drops its frames)
 *
 * Why not one invoked actor per attempt (as before): each created an actor, its mailbox and
 * snapshot, an `xstate.init` event and an `AbortController` — once per partition-epoch. Here an
 * attempt costs its request event and its answer. `fromSinkAttempts` turns a function that runs
 * one attempt into that writer; `fromSinkFunction` adapts the common case, a function that takes a
 * batch and resolves with one result per message.
 */
import { fromCallback, type CallbackActorLogic } from "xstate";
import type { Message, SinkResult } from "./message.js";
import type { SinkIoEvent, SinkWriteInput } from "./sink-session.types.js";

/** What a sink function is told about the batch it writes. */
export interface SinkContext {
  readonly vertex: string;
  readonly partition: number;
  readonly epoch: number;
  /** 1 for the first attempt; the retry strategy's later attempts count up. */
  readonly attempt: number;
  /** Aborted when the session gives up on the attempt (timeout, stop). */
  readonly signal: AbortSignal;
}

/** A sink as users write it: one result per message id (DESIGN §4.1). */
export type SinkFunction = (messages: readonly Message[], context: SinkContext) => Promise<readonly SinkResult[]>;

/** session → sinkWriter: write one attempt (the session keeps at most one outstanding). */
export interface SinkWriteRequest {
  readonly type: "sinkWriter.write";
  readonly input: SinkWriteInput;
}

/**
 * session → sinkWriter: the session left the attempt before its end of results (a timeout, a
 * protocol error, a stop): abort it and drop its later frames. Not sent when the attempt ended
 * with its own final frame (`allOk`, `endOfResults`, `crashed`): the writer saw that frame itself.
 */
export interface SinkCancelRequest {
  readonly type: "sinkWriter.cancel";
  readonly epoch: number;
  readonly attempt: number;
}

export type SinkWriterRequest = SinkWriteRequest | SinkCancelRequest;

/** What the `sinkWriter` actor is started with: the session it serves. */
export interface SinkWriterInput {
  readonly vertex: string;
  readonly partition: number;
}

/**
 * One attempt: write `input.messages` and answer through `sendBack`. The returned function, if
 * any, is called when the attempt ends — its final frame was sent, or the session gave up on it.
 */
export type SinkAttempt = (input: SinkWriteInput, sendBack: (event: SinkIoEvent) => void) => (() => void) | void;

/**
 * The long-lived writer a session invokes. It carries the attempt function it runs, so wrappers
 * (the message gate, delayed redelivery) wrap that function rather than run an actor per attempt.
 */
export type SinkWriterLogic = CallbackActorLogic<SinkWriterRequest, SinkWriterInput> & { readonly attempt: SinkAttempt };

/** The frames after which an attempt has nothing more to say. */
function endsAttempt(event: SinkIoEvent, input: SinkWriteInput): boolean {
  return (
    (event.type === "sinkIo.allOk" || event.type === "sinkIo.endOfResults" || event.type === "sinkIo.crashed") &&
    event.partition === input.partition &&
    event.epoch === input.epoch &&
    event.attempt === input.attempt
  );
}

/**
 * The session's long-lived writer, running `run` once per `sinkWriter.write`. Frames of an
 * attempt the session left (cancelled, superseded, stopped) are dropped, as a stopped per-attempt
 * actor's were; a frame of another partition, epoch or attempt is passed on for the session to
 * judge. A `run` that throws answers its attempt with `sinkIo.crashed`.
 *
 * @example
 * const sinkWriter = fromSinkAttempts((input, sendBack) => {
 *   sendBack({ type: "sinkIo.allOk", partition: input.partition, epoch: input.epoch, attempt: input.attempt });
 * });
 */
export function fromSinkAttempts(run: SinkAttempt): SinkWriterLogic {
  const logic = fromCallback<SinkWriterRequest, SinkWriterInput>(({ receive, sendBack }) => {
    let current: { readonly input: SinkWriteInput; live: boolean; dispose: (() => void) | void } | undefined;
    const end = () => {
      const attempt = current;
      current = undefined;
      if (attempt === undefined || !attempt.live) return;
      attempt.live = false;
      attempt.dispose?.();
    };
    receive((request) => {
      if (request.type === "sinkWriter.cancel") {
        if (current !== undefined && current.input.epoch === request.epoch && current.input.attempt === request.attempt) end();
        return;
      }
      end();
      const attempt: { readonly input: SinkWriteInput; live: boolean; dispose: (() => void) | void } = { input: request.input, live: true, dispose: undefined };
      current = attempt;
      const send = (event: SinkIoEvent) => {
        if (!attempt.live) return;
        sendBack(event);
        if (endsAttempt(event, attempt.input) && current === attempt) end();
      };
      try {
        const dispose = run(request.input, send);
        // The attempt may have ended inside `run` (it answered synchronously): dispose at once.
        if (attempt.live) attempt.dispose = dispose;
        else dispose?.();
      } catch (error) {
        const { partition, epoch, attempt: number } = request.input;
        const reason = `the sink writer failed: ${error instanceof Error ? error.message : String(error)}`;
        send({ type: "sinkIo.crashed", partition, epoch, attempt: number, reason });
      }
    });
    return end;
  });
  return Object.assign(logic, { attempt: run });
}

/**
 * Runs `write` once per attempt, and sends no `sinkIo.sent` (the attempt stays `writing` until
 * the function answers; `awaitingResults` is for sinks whose sending and answering are apart,
 * like process sinks). A thrown error fails every message of the attempt (they go
 * down the retry path); results are passed on as they are, so missing, extra or duplicate ids
 * are caught by the session's protocol checks, not here. When the results answer `ok` for
 * every message, in the order given — what most sinks return — they go back as one
 * `sinkIo.allOk` frame instead of `sinkIo.results` + `sinkIo.endOfResults`, so the session
 * builds nothing per message.
 *
 * @example
 * const sinkWriter = fromSinkFunction(async (messages) => messages.map((m) => ({ id: m.id, status: "ok" })));
 * const session = sinkSessionMachine.provide({ actors: { sinkWriter } });
 */
export function fromSinkFunction(write: SinkFunction): SinkWriterLogic {
  return fromSinkAttempts(sinkFunctionAttempt(write));
}

/**
 * One attempt of a sink function, as `fromSinkFunction` runs it (see there). `isAllOkAnswer`
 * recognises an answer that stands for "every message ok, in order" without one result per
 * message (the runtime's `ALL_OK`): it goes to the session as one `sinkIo.allOk` frame, like an
 * answer whose results are all ok.
 */
export function sinkFunctionAttempt<A = never>(
  write: (messages: readonly Message[], context: SinkContext) => Promise<readonly SinkResult[] | A>,
  isAllOkAnswer?: (answer: readonly SinkResult[] | A) => answer is A,
): SinkAttempt {
  return (input, send) => {
    const frame = { partition: input.partition, epoch: input.epoch, attempt: input.attempt };
    // `settled`: the sink answered, so there is nothing left to abort.
    let settled = false;
    const context = new AttemptContext(input);
    Promise.resolve()
      .then(() => write(input.messages, context))
      .then(
        (answer) => {
          settled = true;
          if (isAllOkAnswer?.(answer) === true) {
            send({ type: "sinkIo.allOk", ...frame });
            return;
          }
          const results = answer as readonly SinkResult[];
          if (isAllOk(input.messages, results)) {
            send({ type: "sinkIo.allOk", ...frame });
            return;
          }
          send({ type: "sinkIo.results", ...frame, results });
          send({ type: "sinkIo.endOfResults", ...frame });
        },
        (error: unknown) => {
          settled = true;
          const text = error instanceof Error ? error.message : String(error);
          const results = input.messages.map((message): SinkResult => ({ id: message.id, status: "failure", error: text }));
          send({ type: "sinkIo.results", ...frame, results });
          send({ type: "sinkIo.endOfResults", ...frame });
        },
      );
    return () => {
      if (!settled) context.cancel();
    };
  };
}

/**
 * The {@link SinkContext} of one attempt of `sinkFunctionAttempt`. A class, so `signal` is one
 * getter on the prototype (issue 12, session 10): an object literal with `get signal()` is a
 * dictionary-mode object holding a getter closure of its own, and V8 kept such a closure — with the
 * attempt's scope and messages — alive through every scavenge until the next full GC: nearly every
 * message was promoted to the old generation and died there (bench/micro/scavenge-pinning.ts).
 */
class AttemptContext implements SinkContext {
  readonly vertex: string;
  readonly partition: number;
  readonly epoch: number;
  readonly attempt: number;
  // Created only if the function reads `signal`: most never do, and an abort costs a DOMException
  // with a stack. Private fields: the context's own properties stay the four above.
  #controller: AbortController | undefined = undefined;
  #cancelled = false;

  constructor(input: SinkWriteInput) {
    this.vertex = input.vertex;
    this.partition = input.partition;
    this.epoch = input.epoch;
    this.attempt = input.attempt;
  }

  /** Aborted when the session gives up on the attempt; read after that, aborted already. */
  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    if (this.#cancelled && !this.#controller.signal.aborted) this.#controller.abort();
    return this.#controller.signal;
  }

  /** The session gave up on the attempt before the sink answered. */
  cancel(): void {
    this.#cancelled = true;
    this.#controller?.abort();
  }
}

/**
 * True when `results` holds exactly one `ok` for each message, position by position. Anything
 * else (another order, a failure, a missing or extra result, not an array) goes to the session
 * as it is, to be judged by the protocol rules.
 */
export function isAllOk(messages: readonly Message[], results: unknown): boolean {
  if (!Array.isArray(results) || results.length !== messages.length) return false;
  for (let i = 0; i < results.length; i += 1) {
    const result = results[i] as SinkResult | null | undefined;
    if (result == null || result.status !== "ok" || result.id !== messages[i]!.id) return false;
  }
  return true;
}
