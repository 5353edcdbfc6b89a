/**
 * A sink session under test, run inside a parent machine on a `SimulatedClock`: the fake sink
 * writer records each attempt and lets the test answer for it frame by frame, and the parent
 * collects what the session reports. Exists because the sink-session tests all drove the session
 * through this same rig.
 */
import { createActor, fromPromise, setup, SimulatedClock, type AnyActorRef, type EventObject, type InspectionEvent } from "xstate";
import {
  defaultRetryPolicy,
  fromSinkAttempts,
  sinkSessionMachine,
  type EpochDoneEvent,
  type FallbackWriteInput,
  type ProtocolErrorEvent,
  type RetryPolicy,
  type SinkIoEvent,
  type SinkResult,
  type SinkWriteInput,
} from "@weir/actors";
import { message } from "./messages.js";

/** The partition the session under test owns. */
export const PARTITION = 1;

/** The frame fields of `epoch`'s attempt `attempt`, on `PARTITION` unless told otherwise. */
export const frame = (epoch: number, attempt: number, partition = PARTITION) => ({ partition, epoch, attempt });

/** An `ok` result for each id. */
export const oks = (ids: readonly string[]): SinkResult[] => ids.map((id) => ({ id, status: "ok" }));

/** One attempt the session started: what it was asked to write, and how to answer for it. */
export interface SinkAttempt {
  readonly input: SinkWriteInput;
  readonly send: (event: SinkIoEvent) => void;
}

export interface SinkSessionOptions {
  /**
   * Whether the fake writer reports `sinkIo.sent` as soon as an attempt starts, so the session
   * awaits results; without it the session stays `writing` until the first answer.
   */
  readonly reportsSent: boolean;
  /** What happens once retries are spent (`retry` by default). */
  readonly onFailure?: RetryPolicy["onFailure"];
  /** Sees the run's inspection events (the session's microsteps among them). */
  readonly inspect?: (event: InspectionEvent) => void;
}

/**
 * Starts a session on `PARTITION` (retry every 10 ms, 3 attempts; 100 ms result timeout) whose
 * fallback writer always succeeds.
 */
export function startSinkSession({ reportsSent, onFailure = "retry", inspect }: SinkSessionOptions) {
  const clock = new SimulatedClock();
  const attempts: SinkAttempt[] = [];
  const sinkWriter = fromSinkAttempts((input, sendBack) => {
    attempts.push({ input, send: sendBack });
    if (reportsSent) sendBack({ type: "sinkIo.sent", partition: input.partition, epoch: input.epoch, attempt: input.attempt });
  });
  const fallbackWriter = fromPromise<void, FallbackWriteInput>(async () => undefined);
  const toParent: EventObject[] = [];
  const parent = setup({ actors: { session: sinkSessionMachine.provide({ actors: { sinkWriter, fallbackWriter } }) } }).createMachine({
    invoke: {
      id: "session",
      src: "session",
      input: {
        vertex: "v",
        partition: PARTITION,
        retry: { ...defaultRetryPolicy, intervalMs: 10, steps: 3, onFailure },
        resultTimeoutMs: 100,
      },
    },
    on: { "*": { actions: ({ event }) => toParent.push(event) } },
  });
  const actor = createActor(parent, inspect === undefined ? { clock } : { clock, inspect });
  actor.start();
  const session = actor.getSnapshot().children.session as AnyActorRef;
  const state = () => (session.getSnapshot() as { value: unknown }).value;
  const protocolErrors = () => toParent.filter((e): e is ProtocolErrorEvent => e.type === "sink.protocolError");
  const epochsDone = () => toParent.filter((e): e is EpochDoneEvent => e.type === "sink.epochDone");
  /** DATA and EOT of `partition`'s epoch, as its batcher sends them. */
  const deliverEpoch = (partition: number, epoch: number, ids: readonly string[]) => {
    if (ids.length > 0) session.send({ type: "batcher.data", partition, epoch, messages: ids.map(message) });
    session.send({ type: "batcher.eot", partition, epoch, count: ids.length });
  };
  return { clock, attempts, session, state, protocolErrors, epochsDone, deliverEpoch, stop: () => actor.stop() };
}
