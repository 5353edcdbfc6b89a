/**
 * Records a replayable trace from XState's inspection stream — nothing else: pass `inspect` to
 * `createPipeline(spec, { inspect })` (or to `createActor`) and every actor of the system is
 * recorded, with no hook in the machines or the runtime.
 *
 *   @xstate.event  xstate.init of a root ─────────────▶ start   (stimulus)
 *                  xstate.init of an I/O actor ───────▶ invoke  (expectation)
 *                  I/O actor → its parent ────────────▶ io      (stimulus; `sync` while starting or handling a request)
 *                  a pending timer's event ───────────▶ fire    (stimulus)
 *                  from outside the system ───────────▶ send    (stimulus)
 *                  machine → machine ─────────────────▶ ev      (for people)
 *   @xstate.snapshot of a machine actor ──────────────▶ snap    (expectation; + stop for roots)
 *   @xstate.action   delayed raise/sendTo ────────────▶ timer   (expectation), cancel, emit
 *
 * An I/O answer is a stimulus — something the replay must perform at this point — unless it was
 * sent while the I/O actor was still starting (between its `xstate.init` and its first
 * snapshot) or handling a request from its parent (between the request and the snapshot after
 * it, e.g. a sink attempt's `sinkIo.sent` sent as the long-lived writer takes `sinkWriter.write`):
 * then it happened inside another stimulus's cascade, and the replay's stand-in sends it at the
 * same point (`sync: true`).
 *
 * Overhead is bounded: snapshots record the state value, never the context; events between
 * actors carry batch summaries; only I/O answers are written in full, message bodies as their
 * length unless `payloads: "base64"`.
 */
import type { ActorRefLike, AnyEventObject, InspectionEvent, Observer } from "xstate";
import { actorPath, ioSource, isMachineRef, isRootRef, machineId, parentPath } from "./actor-path.js";
import { encodeTraceJson, summarizeForTrace, traceFormat, type TracePayloads, type TraceRecord } from "./trace-format.js";

export interface TraceRecorderOptions {
  /** Receives each record as one JSON line ending in "\n". */
  readonly write: (line: string) => void;
  readonly payloads?: TracePayloads;
  /** Also record `ev` and `emit` lines (events between actors, emitted events). Default true. */
  readonly events?: boolean;
  readonly pipeline?: string;
  /** Milliseconds since the recording started; defaults to `performance.now()` based. */
  readonly now?: () => number;
}

export interface TraceRecorderStats {
  readonly records: number;
  readonly stimuli: number;
  readonly ioAnswers: number;
  readonly timersFired: number;
}

export interface TraceRecorder {
  /** The inspection observer to hand to `createPipeline` / `createActor`. */
  readonly inspect: Observer<InspectionEvent>;
  stats(): TraceRecorderStats;
  /** Writes the `end` record; later inspection events are ignored. */
  end(extra?: Readonly<Record<string, unknown>>): void;
}

interface IoInvocation {
  readonly parent: string;
  readonly src: string;
  readonly n: number;
  /** The messages of the sink attempt the I/O actor is writing, if any (its latest `sinkWriter.write`). */
  messages: readonly { readonly id: string }[] | undefined;
  /** Starting, or handling a request from its parent: what it sends now is inside that cascade. */
  starting: boolean;
}

interface PendingTimer {
  readonly actor: string;
  readonly id: string | null;
  readonly due: number;
}

const round = (ms: number) => Math.round(ms * 100) / 100;

export function createTraceRecorder(options: TraceRecorderOptions): TraceRecorder {
  const payloads = options.payloads ?? "omit";
  const withEvents = options.events ?? true;
  const origin = performance.now();
  const now = options.now ?? (() => performance.now() - origin);
  const invocations = new WeakMap<object, IoInvocation>();
  const invokeCounts = new Map<string, number>();
  // Keyed by the scheduled event object: XState relays that very object when the timer fires.
  const timers = new Map<object, PendingTimer[]>();
  let records = 0;
  let stimuli = 0;
  let ioAnswers = 0;
  let timersFired = 0;
  let ended = false;

  const put = (record: TraceRecord, full = false) => {
    records += 1;
    options.write(`${full ? encodeTraceJson(record, payloads) : JSON.stringify(record)}\n`);
  };

  put({ k: "header", format: traceFormat, startedAt: new Date().toISOString(), payloads, events: withEvents, ...(options.pipeline === undefined ? {} : { pipeline: options.pipeline }) });

  const onEvent = (target: ActorRefLike, source: ActorRefLike | undefined, event: AnyEventObject) => {
    if (event.type === "xstate.init") {
      if (isRootRef(target)) {
        stimuli += 1;
        put({ k: "start", t: round(now()), a: actorPath(target), machine: machineId(target) ?? "unknown", input: (event as { input?: unknown }).input ?? null }, true);
      } else if (!isMachineRef(target)) {
        const parent = parentPath(target)!;
        const src = ioSource(target);
        const key = `${parent}#${src}`;
        const n = (invokeCounts.get(key) ?? 0) + 1;
        invokeCounts.set(key, n);
        const input = (event as { input?: { messages?: unknown } }).input;
        const messages = Array.isArray(input?.messages) ? (input.messages as IoInvocation["messages"]) : undefined;
        invocations.set(target, { parent, src, n, messages, starting: true });
        put({ k: "invoke", a: parent, src, n, input: summarizeForTrace(input ?? null) });
      }
      return;
    }
    if (source !== undefined && isMachineRef(source) && !isMachineRef(target)) {
      // A request to a long-lived I/O actor (reader.read, sinkWriter.write …): what the actor
      // sends back before its next snapshot is part of this cascade.
      const invocation = invocations.get(target);
      if (invocation !== undefined) {
        invocation.starting = true;
        if (event.type === "sinkWriter.write") invocation.messages = (event as { input?: { messages?: IoInvocation["messages"] } }).input?.messages;
      }
      if (withEvents) put({ k: "ev", a: actorPath(target), from: actorPath(source), e: summarizeForTrace(event) as AnyEventObject });
      return;
    }
    if (source !== undefined && !isMachineRef(source)) {
      if (source === target) return; // xstate.promise.resolve/reject: the promise actor's own step
      const invocation = invocations.get(source);
      if (invocation === undefined) return;
      ioAnswers += 1;
      if (!invocation.starting) stimuli += 1;
      const e = event.type === "sinkIo.results" ? compactResults(event, invocation.messages) : event;
      // Sent to another actor than its invoker (a reader's readerIo hands reads to the batcher).
      const to = target === (source as { _parent?: unknown })._parent ? undefined : actorPath(target);
      put({ k: "io", t: round(now()), a: invocation.parent, src: invocation.src, n: invocation.n, e, ...(invocation.starting ? { sync: true as const } : {}), ...(to === undefined ? {} : { to }) }, true);
      if (event.type.startsWith("xstate.error.actor")) invocation.starting = false;
      return;
    }
    if (source !== undefined) {
      const pending = timers.get(event);
      if (pending !== undefined) {
        const from = actorPath(source);
        const index = pending.findIndex((timer) => timer.actor === from);
        if (index >= 0) {
          const timer = pending[index]!;
          pending.splice(index, 1);
          if (pending.length === 0) timers.delete(event);
          stimuli += 1;
          timersFired += 1;
          put({ k: "fire", t: round(now()), a: from, id: timer.id, e: event.type, due: timer.due });
          return;
        }
      }
    } else if (isMachineRef(target)) {
      stimuli += 1;
      put({ k: "send", t: round(now()), a: actorPath(target), e: event }, true);
      return;
    }
    if (withEvents && isMachineRef(target)) {
      put({ k: "ev", a: actorPath(target), ...(source === undefined ? {} : { from: actorPath(source) }), e: summarizeForTrace(event) as AnyEventObject });
    }
  };

  const onSnapshot = (ref: ActorRefLike, event: AnyEventObject, snapshot: { status?: string; value?: unknown }) => {
    if (!isMachineRef(ref)) {
      const invocation = invocations.get(ref);
      if (invocation !== undefined) invocation.starting = false;
      return;
    }
    const a = actorPath(ref);
    if (event.type === "xstate.stop" && isRootRef(ref)) {
      stimuli += 1;
      put({ k: "stop", t: round(now()), a });
    }
    const status = snapshot.status ?? "active";
    put({ k: "snap", a, e: event.type, v: snapshot.value ?? null, ...(status === "active" ? {} : { s: status }) });
  };

  const onAction = (ref: ActorRefLike, action: { type: string; params: unknown }) => {
    const params = action.params as { event?: unknown; id?: unknown; delay?: unknown; sendId?: unknown } | undefined;
    if ((action.type === "xstate.raise" || action.type === "xstate.sendTo") && typeof params?.delay === "number") {
      const event = params.event as AnyEventObject | undefined;
      if (event === undefined || typeof event !== "object") return;
      const a = actorPath(ref);
      const t = round(now());
      const id = typeof params.id === "string" ? params.id : null;
      const list = timers.get(event) ?? [];
      list.push({ actor: a, id, due: round(t + params.delay) });
      timers.set(event, list);
      put({ k: "timer", t, a, id, delay: params.delay, e: event.type });
    } else if (action.type === "xstate.cancel" && typeof params?.sendId === "string") {
      const a = actorPath(ref);
      const sendId = params.sendId;
      for (const [event, list] of timers) {
        const kept = list.filter((timer) => !(timer.actor === a && timer.id === sendId));
        if (kept.length === list.length) continue;
        if (kept.length === 0) timers.delete(event);
        else timers.set(event, kept);
      }
      if (withEvents) put({ k: "cancel", a, id: sendId });
    } else if (action.type === "xstate.emit" && withEvents && params !== undefined) {
      put({ k: "emit", a: actorPath(ref), e: summarizeForTrace(params) as AnyEventObject });
    }
  };

  return {
    inspect: {
      next(inspection) {
        if (ended) return;
        switch (inspection.type) {
          case "@xstate.event":
            onEvent(inspection.actorRef, inspection.sourceRef, inspection.event);
            break;
          case "@xstate.snapshot":
            onSnapshot(inspection.actorRef, inspection.event, inspection.snapshot as { status?: string; value?: unknown });
            break;
          case "@xstate.action":
            onAction(inspection.actorRef, inspection.action);
            break;
          default:
            break;
        }
      },
    },
    stats: () => ({ records, stimuli, ioAnswers, timersFired }),
    end(extra = {}) {
      if (ended) return;
      ended = true;
      put({ k: "end", t: round(now()), records, elided: 0, ...extra });
    },
  };
}

/**
 * Sink results are the largest part of a trace after reads, and nearly always all `ok`: then
 * they are written as `{"$ok": "input"}` (one ok per message of the attempt, in its order) or
 * `{"$ok": [ids]}`. Anything else is written as it is.
 */
function compactResults(event: AnyEventObject, messages: IoInvocation["messages"]): AnyEventObject {
  const results = (event as { results?: unknown }).results;
  if (!Array.isArray(results)) return event;
  const ids: string[] = new Array(results.length);
  let inOrder = messages !== undefined && messages.length === results.length;
  for (let i = 0; i < results.length; i += 1) {
    const result = results[i] as { id?: unknown; status?: unknown; [other: string]: unknown };
    if (result === null || typeof result !== "object" || result.status !== "ok" || typeof result.id !== "string" || Object.keys(result).length !== 2) return event;
    ids[i] = result.id;
    if (inOrder && messages![i]!.id !== result.id) inOrder = false;
  }
  return { ...event, results: { $ok: inOrder ? "input" : ids } };
}
