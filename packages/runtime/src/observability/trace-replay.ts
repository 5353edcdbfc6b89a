/**
 * Replays a trace (see trace-format.ts) against the machines and checks that every actor makes
 * the same transitions, invokes the same I/O and sets the same timers, in the same order.
 *
 *   trace ──▶ steps: stimulus + the expectations that followed it
 *                │
 *   for each step: queue its expectations per actor
 *                  perform the stimulus ──▶ start a root | answer an I/O actor | fire a timer | send | stop
 *                  let the cascade run; every transition is checked against the actor's queue
 *                  anything left in a queue is a transition the replay did not make
 *
 * Nothing real runs: the machines get stand-ins for every I/O actor (`readerIo`,
 * `sinkWriter`, `fallbackWriter`, `commitEpoch` — any actor logic a machine names that is not
 * itself a machine) which answer with the recorded outputs, and a `SimulatedClock` that is never
 * advanced, so no timer fires by itself. Each timer fires at the step where it fired in the
 * recording: a real timer fires late, after I/O that completed in the meantime, so replaying by
 * the clock alone would reorder them.
 */
import {
  createActor,
  fromCallback,
  fromPromise,
  SimulatedClock,
  type ActorRefLike,
  type AnyActorRef,
  type AnyEventObject,
  type AnyStateMachine,
  type EventObject,
  type InspectionEvent,
} from "xstate";
import { batcherMachine, partitionReaderMachine, sinkSessionMachine, supervisorMachine, windowKeeperMachine } from "@weir/actors";
import { actorPath, ioSource, isMachineRef, machineId, parentPath } from "./actor-path.js";
import { isStimulus, retiredTraceFormats, summarizeForTrace, traceFormat, type TraceEvent, type TraceInvoke, type TraceRecord, type TraceSnap, type TraceStimulus, type TraceTimer } from "./trace-format.js";

export interface ReplayOptions {
  /**
   * Machines by id (`supervisor`, `partitionReader`, `batcher`, `sinkSession`) that replace
   * Weir's own: replaying a trace against a changed machine shows where its behaviour differs.
   */
  readonly machines?: Readonly<Record<string, AnyStateMachine>>;
  /** Changes a root actor's recorded input before the replay creates it. */
  readonly mapInput?: (root: string, machine: string, input: unknown) => unknown;
  /** I/O sources that answer by sending events back (callback actors). Default `["sinkWriter", "readerIo", "windowIo"]`. */
  readonly callbackSources?: readonly string[];
  /** How many matched steps before the divergence the diff shows. Default 3. */
  readonly context?: number;
}

export interface ReplayDivergence {
  /** The actor whose step differs, by path (`out/sink/1`). */
  readonly actor: string;
  readonly machine: string | undefined;
  /** That actor's step (1-based) in the recording. */
  readonly step: number;
  /** The trace line (1-based) of the recorded step, or of the stimulus that could not be performed. */
  readonly line: number;
  /** What the recording did at that step; null when the replay did something the recording did not. */
  readonly recorded: string | null;
  /** What the replay did instead; null when it did nothing. */
  readonly replayed: string | null;
  /** The stimulus whose cascade diverged, as a line of text. */
  readonly during: string;
  /** A readable diff naming the actor and the step. */
  readonly diff: string;
}

export interface ReplayResult {
  readonly ok: boolean;
  /** Stimuli performed. */
  readonly stimuli: number;
  /** Expectations checked (transitions, invocations, timers). */
  readonly checked: number;
  /** Machine actors seen. */
  readonly actors: number;
  readonly divergence?: ReplayDivergence;
}

/** The machines a Weir trace's roots and their children are made of, by machine id. */
export const weirMachines: Readonly<Record<string, AnyStateMachine>> = {
  supervisor: supervisorMachine,
  partitionReader: partitionReaderMachine,
  batcher: batcherMachine,
  sinkSession: sinkSessionMachine,
  windowKeeper: windowKeeperMachine,
};

type Expectation = TraceSnap | TraceInvoke | TraceTimer;

interface Expected {
  readonly record: Expectation;
  readonly line: number;
  readonly step: number;
}

interface ActorTrack {
  readonly queue: Expected[];
  head: number;
  /** Steps assigned so far (recorded). */
  steps: number;
  /** The last matched steps, for the diff. */
  readonly history: Array<{ readonly step: number; readonly text: string }>;
}

interface Deferred {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

class Diverged extends Error {
  constructor(readonly divergence: ReplayDivergence) {
    super(divergence.diff);
  }
}

/**
 * Replays `records` and reports the first step where an actor behaves differently.
 *
 * @example
 * ```ts
 * const result = await replayTrace(readTraceFile("run.trace.jsonl"));
 * if (!result.ok) console.error(result.divergence!.diff);
 * ```
 */
export async function replayTrace(
  records: Iterable<TraceRecord> | AsyncIterable<TraceRecord>,
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  const replay = new TraceReplay(options);
  try {
    let line = 0;
    let stimulus: { record: TraceStimulus; line: number } | undefined;
    let step: Array<{ record: Expectation | Extract<TraceRecord, { k: "io" }>; line: number }> = [];
    for await (const record of records) {
      line += 1;
      if (record.k === "header") {
        if (record.format !== traceFormat) {
          const why = retiredTraceFormats[String(record.format)];
          throw new Error(`trace format '${String(record.format)}' is not supported${why === undefined ? "" : `: ${why}`}; this replay reads ${traceFormat}`);
        }
      } else if (record.k === "snap" || record.k === "invoke" || record.k === "timer" || (record.k === "io" && record.sync === true)) {
        step.push({ record, line });
      } else if (isStimulus(record)) {
        if (stimulus !== undefined) await replay.step(stimulus, step);
        stimulus = { record, line };
        step = [];
      }
    }
    if (stimulus !== undefined) await replay.step(stimulus, step);
    replay.finish();
    return replay.result();
  } catch (error) {
    if (error instanceof Diverged) return replay.result(error.divergence);
    throw error;
  } finally {
    replay.stopAll();
  }
}

/** An I/O actor's answer recorded while it handled a request, and where it went (`to`: not its invoker). */
interface SyncAnswer {
  readonly e: TraceEvent;
  readonly to: string | undefined;
  readonly line: number;
}

/**
 * Sends `event` to `target` as `source` did, through XState's system relay (as `sendBack` does),
 * so the replay's inspection sees the same sender as the recording's.
 */
function relayFrom(system: object, source: AnyActorRef, target: AnyActorRef, event: EventObject): void {
  const internal = system as { _relay?: (from: AnyActorRef, to: AnyActorRef, e: EventObject) => void };
  if (typeof internal._relay === "function") internal._relay(source, target, event);
  else target.send(event);
}

class TraceReplay {
  private readonly machines: Readonly<Record<string, AnyStateMachine>>;
  private readonly callbackSources: ReadonlySet<string>;
  private readonly contextSize: number;
  private readonly tracks = new Map<string, ActorTrack>();
  private readonly machineOf = new Map<string, string>();
  private readonly roots = new Map<string, AnyActorRef>();
  private readonly actors = new Map<string, ActorRefLike>();
  private readonly invocationKeys = new WeakMap<object, string>();
  private readonly invokeCounts = new Map<string, number>();
  private readonly promises = new Map<string, Deferred>();
  private readonly callbacks = new Map<string, { readonly deliver: (event: EventObject, to: string | undefined, line: number) => void; input: unknown }>();
  private readonly syncAnswers = new Map<string, SyncAnswer[]>();
  private stimuli = 0;
  private checked = 0;
  private during = "(start)";
  private stopped = false;
  private divergence: ReplayDivergence | undefined;

  constructor(private readonly options: ReplayOptions) {
    this.machines = { ...weirMachines, ...options.machines };
    this.callbackSources = new Set(options.callbackSources ?? ["sinkWriter", "readerIo", "windowIo"]);
    this.contextSize = options.context ?? 3;
  }

  async step(stimulus: { record: TraceStimulus; line: number }, expectations: ReadonlyArray<{ record: Expectation | Extract<TraceRecord, { k: "io" }>; line: number }>): Promise<void> {
    for (const { record, line } of expectations) {
      if (record.k === "io") {
        const key = invocationKey(record.a, record.src, record.n);
        this.syncAnswers.set(key, [...(this.syncAnswers.get(key) ?? []), { e: record.e, to: record.to, line }]);
        continue;
      }
      if (record.k === "snap" && record.e === "xstate.stop") continue; // stopping order is not behaviour
      const track = this.track(record.a);
      track.steps += 1;
      track.queue.push({ record, line, step: track.steps });
    }
    this.during = `line ${stimulus.line}: ${describeStimulus(stimulus.record)}`;
    this.stimuli += 1;
    this.perform(stimulus.record, stimulus.line);
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.throwIfDiverged();
    this.checkNothingLeft();
  }

  finish(): void {
    this.checkNothingLeft();
  }

  result(divergence?: ReplayDivergence): ReplayResult {
    const found = divergence ?? this.divergence;
    return { ok: found === undefined, stimuli: this.stimuli, checked: this.checked, actors: this.tracks.size, ...(found === undefined ? {} : { divergence: found }) };
  }

  stopAll(): void {
    this.stopped = true;
    for (const root of this.roots.values()) root.stop();
  }

  private perform(record: TraceStimulus, line: number): void {
    switch (record.k) {
      case "start": {
        const machine = this.machines[record.machine];
        if (machine === undefined) throw new Error(`line ${line}: the trace starts a '${record.machine}' machine; pass it in options.machines`);
        const input = this.options.mapInput?.(record.a, record.machine, record.input) ?? record.input;
        const actor = createActor(this.withStandIns(machine, true), {
          id: record.a,
          input,
          clock: new SimulatedClock(),
          inspect: (event: InspectionEvent) => this.observe(event),
        });
        // A replay actor that throws must show up as a divergence, not as an unhandled error.
        actor.subscribe({ error: () => undefined });
        this.roots.set(record.a, actor);
        actor.start();
        return;
      }
      case "io": {
        const key = invocationKey(record.a, record.src, record.n);
        const event = record.e;
        const promise = this.promises.get(key);
        const callback = this.callbacks.get(key);
        if (promise !== undefined && event.type.startsWith("xstate.done.actor")) {
          this.promises.delete(key);
          promise.resolve(event["output"]);
        } else if (promise !== undefined && event.type.startsWith("xstate.error.actor")) {
          this.promises.delete(key);
          promise.reject(event["error"]);
        } else if (callback !== undefined) {
          callback.deliver(withInputResults(event, callback.input), record.to, line);
        } else {
          this.divergeOnStimulus(record.a, line, `${record.src} #${record.n} answers ${event.type}`, `${record.src} #${record.n} is not running`);
        }
        return;
      }
      case "fire": {
        const actor = this.actors.get(record.a) as AnyActorRef | undefined;
        const scheduled = actor === undefined ? undefined : Object.values(actor.system.getSnapshot()._scheduledEvents).find(
          (entry) => actorPath(entry.source) === record.a && (record.id === null ? entry.event.type === record.e : entry.id === record.id),
        );
        if (actor === undefined || scheduled === undefined) {
          this.divergeOnStimulus(record.a, line, `timer ${record.id ?? record.e} fires`, `no such timer is pending`);
          return;
        }
        actor.system.scheduler.cancel(scheduled.source, scheduled.id);
        scheduled.target.send(scheduled.event);
        return;
      }
      case "send": {
        const actor = this.actors.get(record.a);
        if (actor === undefined) this.divergeOnStimulus(record.a, line, `takes ${record.e.type} from outside`, "no such actor");
        else actor.send(record.e);
        return;
      }
      case "stop":
        this.roots.get(record.a)?.stop();
        return;
    }
  }

  /**
   * The machine with every I/O actor it (or a child machine) names replaced by a stand-in. A
   * child machine is replaced only by one the caller passed in `options.machines`, so changes a
   * caller made to a parent's children with `.provide()` are kept.
   */
  private withStandIns(machine: AnyStateMachine, isRoot = false): AnyStateMachine {
    const replaced = isRoot ? machine : (this.options.machines?.[machine.id] ?? machine);
    const actors: Record<string, unknown> = {};
    for (const [name, logic] of Object.entries(replaced.implementations.actors)) {
      if (isStateMachine(logic)) actors[name] = this.withStandIns(logic);
      else actors[name] = this.callbackSources.has(name) ? this.callbackStandIn() : this.promiseStandIn();
    }
    return replaced.provide({ actors } as never) as AnyStateMachine;
  }

  private promiseStandIn() {
    return fromPromise<unknown, unknown>(({ self, signal }) => {
      const key = this.invocationKeys.get(self) ?? "?";
      const early = this.takeSyncAnswers(key);
      const failure = early.find(({ e }) => e.type.startsWith("xstate.error.actor"));
      if (failure !== undefined) throw failure.e["error"];
      return new Promise((resolve, reject) => {
        this.promises.set(key, { resolve, reject });
        signal.addEventListener("abort", () => this.promises.delete(key), { once: true });
      });
    });
  }

  private callbackStandIn() {
    return fromCallback<EventObject, unknown>(({ self, sendBack, input, receive, system }) => {
      const key = this.invocationKeys.get(self) ?? "?";
      // To its invoker, or (`to`) to the actor the recording's I/O actor sent it to, as sent by it.
      const deliver = (event: EventObject, to: string | undefined, line: number) => {
        if (to === undefined) {
          sendBack(event);
          return;
        }
        const target = this.actors.get(to) as AnyActorRef | undefined;
        if (target === undefined) this.divergeOnStimulus(to, line, `takes ${event.type} from ${key}`, "no such actor");
        else relayFrom(system, self, target, event);
      };
      const callback = { deliver, input };
      this.callbacks.set(key, callback);
      for (const { e, to, line } of this.takeSyncAnswers(key)) {
        if (e.type.startsWith("xstate.error.actor")) throw e["error"];
        deliver(withInputResults(e, input), to, line);
      }
      // A long-lived I/O actor's request: a sink attempt's messages (for `$ok: "input"` results),
      // and what the recording's actor answered while handling it.
      receive((request) => {
        if (request.type === "sinkWriter.write") callback.input = (request as { input?: unknown }).input;
        for (const { e, to, line } of this.takeSyncAnswers(key)) deliver(withInputResults(e, callback.input), to, line);
      });
      return () => this.callbacks.delete(key);
    });
  }

  /** What the recording's I/O actor `key` sent while it was starting; the stand-in sends it likewise. */
  private takeSyncAnswers(key: string): readonly SyncAnswer[] {
    const answers = this.syncAnswers.get(key) ?? [];
    this.syncAnswers.delete(key);
    return answers;
  }

  private observe(inspection: InspectionEvent): void {
    if (this.stopped || this.divergence !== undefined) return;
    const ref = inspection.actorRef;
    switch (inspection.type) {
      case "@xstate.actor":
        return;
      case "@xstate.event": {
        if (inspection.event.type !== "xstate.init") return;
        const path = actorPath(ref);
        this.actors.set(path, ref);
        if (isMachineRef(ref)) {
          this.machineOf.set(path, machineId(ref) ?? "?");
          return;
        }
        const parent = parentPath(ref);
        if (parent === undefined) return;
        const src = ioSource(ref);
        const count = (this.invokeCounts.get(`${parent}#${src}`) ?? 0) + 1;
        this.invokeCounts.set(`${parent}#${src}`, count);
        this.invocationKeys.set(ref, invocationKey(parent, src, count));
        const input = summarizeForTrace((inspection.event as { input?: unknown }).input ?? null);
        this.check(parent, { k: "invoke", a: parent, src, n: count, input });
        return;
      }
      case "@xstate.snapshot": {
        if (!isMachineRef(ref) || inspection.event.type === "xstate.stop") return;
        const snapshot = inspection.snapshot as { status?: string; value?: unknown };
        const status = snapshot.status ?? "active";
        const path = actorPath(ref);
        this.check(path, { k: "snap", a: path, e: inspection.event.type, v: snapshot.value ?? null, ...(status === "active" ? {} : { s: status }) });
        return;
      }
      case "@xstate.action": {
        const params = inspection.action.params as { event?: AnyEventObject; id?: unknown; delay?: unknown } | undefined;
        const type = inspection.action.type;
        if ((type === "xstate.raise" || type === "xstate.sendTo") && typeof params?.delay === "number" && params.event !== undefined) {
          const path = actorPath(ref);
          this.check(path, { k: "timer", t: 0, a: path, id: typeof params.id === "string" ? params.id : null, delay: params.delay, e: params.event.type });
        }
        return;
      }
      default:
        return;
    }
  }

  private check(actor: string, observed: Expectation): void {
    const track = this.track(actor);
    const expected = track.queue[track.head];
    const actual = describeExpectation(observed);
    if (expected === undefined) {
      this.diverge(actor, track, { step: track.steps + 1, line: 0, recorded: null, replayed: actual });
      return;
    }
    const wanted = describeExpectation(expected.record);
    if (wanted !== actual) {
      this.diverge(actor, track, { step: expected.step, line: expected.line, recorded: wanted, replayed: actual });
      return;
    }
    track.head += 1;
    if (track.head === track.queue.length) {
      track.queue.length = 0;
      track.head = 0;
    }
    this.checked += 1;
    track.history.push({ step: expected.step, text: wanted });
    if (track.history.length > this.contextSize) track.history.shift();
  }

  /** After a step: a recorded expectation still queued is a transition the replay did not make. */
  private checkNothingLeft(): void {
    let first: { actor: string; track: ActorTrack; expected: Expected } | undefined;
    for (const [actor, track] of this.tracks) {
      const expected = track.queue[track.head];
      if (expected !== undefined && (first === undefined || expected.line < first.expected.line)) first = { actor, track, expected };
    }
    if (first === undefined) return;
    this.diverge(first.actor, first.track, {
      step: first.expected.step,
      line: first.expected.line,
      recorded: describeExpectation(first.expected.record),
      replayed: null,
    });
    this.throwIfDiverged();
  }

  private diverge(actor: string, track: ActorTrack, at: { step: number; line: number; recorded: string | null; replayed: string | null }): void {
    if (this.divergence !== undefined) return;
    const machine = this.machineOf.get(actor);
    const width = String(at.step).length + 5;
    const label = (step: number) => `step ${step}`.padEnd(width);
    const lines = [
      `trace replay diverged: actor ${actor}${machine === undefined ? "" : ` (${machine})`}, step ${at.step}${at.line > 0 ? ` (trace line ${at.line})` : ""}`,
      `  while replaying ${this.during}`,
      ...track.history.map((entry) => `    ${label(entry.step)}  ${entry.text}`),
      `  - ${label(at.step)}  ${at.recorded ?? "(nothing: the recording made no such step here)"}`,
      `  + ${label(at.step)}  ${at.replayed ?? "(nothing: the replay made no such step)"}`,
    ];
    this.divergence = { actor, machine, step: at.step, line: at.line, recorded: at.recorded, replayed: at.replayed, during: this.during, diff: lines.join("\n") };
  }

  private divergeOnStimulus(actor: string, line: number, recorded: string, replayed: string): void {
    const track = this.track(actor);
    this.diverge(actor, track, { step: track.steps + 1, line, recorded, replayed });
    this.throwIfDiverged();
  }

  private throwIfDiverged(): void {
    if (this.divergence !== undefined) throw new Diverged(this.divergence);
  }

  private track(actor: string): ActorTrack {
    let track = this.tracks.get(actor);
    if (track === undefined) {
      track = { queue: [], head: 0, steps: 0, history: [] };
      this.tracks.set(actor, track);
    }
    return track;
  }
}

/** `results: {"$ok": "input"}` (see the recorder): one ok result per message the attempt was given. */
function withInputResults(event: TraceEvent, input: unknown): TraceEvent {
  const results = event["results"] as { $ok?: unknown } | undefined;
  if (results === undefined || results === null || results.$ok !== "input") return event;
  const messages = ((input as { messages?: ReadonlyArray<{ id: string }> } | undefined)?.messages ?? []);
  return { ...event, results: messages.map((message) => ({ id: message.id, status: "ok" })) };
}

function invocationKey(parent: string, src: string, n: number): string {
  return `${parent}#${src}#${n}`;
}

function isStateMachine(logic: unknown): logic is AnyStateMachine {
  return typeof (logic as { getStateNodeById?: unknown } | null)?.getStateNodeById === "function";
}

function describeExpectation(record: Expectation): string {
  switch (record.k) {
    case "snap":
      return `${record.e} → ${JSON.stringify(record.v)}${record.s === undefined ? "" : ` (${record.s})`}`;
    case "invoke":
      return `invokes ${record.src} #${record.n} with ${JSON.stringify(record.input)}`;
    case "timer":
      return `sets timer ${record.id ?? record.e} for ${record.delay}ms`;
  }
}

function describeStimulus(record: TraceStimulus): string {
  switch (record.k) {
    case "start":
      return `start ${record.a} (${record.machine})`;
    case "io":
      return `${record.a} ${record.src} #${record.n} answers ${record.e.type} at t=${record.t}ms`;
    case "fire":
      return `timer ${record.id ?? record.e} of ${record.a} fires (due t=${record.due}ms)`;
    case "send":
      return `${record.a} takes ${record.e.type} from outside at t=${record.t}ms`;
    case "stop":
      return `${record.a} is stopped at t=${record.t}ms`;
  }
}
