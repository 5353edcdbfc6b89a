/**
 * The external process of one partition of one vertex: started lazily on the first attempt,
 * restarted with backoff after it dies, stopped on close. Never shared between partitions
 * (DESIGN §2.1: one partition's frames can never reach another's session).
 *
 *   begin(attempt) ──▶ ensure a process (backoff after a failure, spawn, hello/ready)
 *                  ──▶ write data… eot ──▶ listener.onSent
 *   process frames ──▶ listener.onFrame     (as they are: the listener judges them)
 *   malformed frame / exit / failed start ──▶ listener.onCrash(reason, byProcess)
 *   release() ──▶ listener detached; the process keeps running for the next attempt
 *
 * One listener at a time: the attempt in progress. A frame of an attempt this process was sent
 * and that was given up since is stale: dropped here (logged at debug), so it is never judged
 * against a later attempt. What happens between attempts costs no attempt anything:
 *   - a process that answered its last attempt in full and exits before it answers any frame of
 *     the next one exited *between* attempts: the attempt goes once to a new process (a second
 *     loss is the attempt's, so a message that kills the process cannot loop);
 *   - a malformed line that names no attempt (a stray print) is counted and logged, never
 *     charged to the attempt in progress; one that names the attempt in progress ends it.
 * Misbehaviour no attempt is charged with is counted here (`onProtocolError`), once.
 */
import type { Message } from "@weir/actors";
import type { Logger } from "../../observability/logger.js";
import { elapsedSince, monotonicNow } from "../../time/monotonic-clock.js";
import { ProcessChild, type MalformedOwner } from "./process-child.js";
import { encodeAttempt, encodeHello, type AttemptFrame, type AttemptFrameFields, type ProcessRole } from "./process-frames.js";

/** Waits between restarts: `interval × factor^(failures−1)`, at most `cap` (all in ms). */
export interface RestartBackoff {
  readonly interval: number;
  readonly factor: number;
  readonly cap: number;
}

export const defaultRestartBackoff: RestartBackoff = { interval: 100, factor: 2, cap: 5_000 };

/** How to run the process; shared by the process sink and the process map. */
export interface ProcessCommandOptions {
  /** Program and arguments, e.g. `["python3", "sink.py"]`; no shell is involved. */
  readonly command: readonly string[];
  /** Added to Weir's own environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory; Weir's own when absent. */
  readonly cwd?: string;
  /** Partitions of the vertex: one process each. */
  readonly partitions: number;
  /** Longest wait for `ready` after `hello`, in ms (default 30 s). */
  readonly startTimeout?: number;
  readonly restartBackoff?: RestartBackoff;
  /** How long `close()` waits after closing stdin, and again after SIGTERM, in ms (default 5 s). */
  readonly stopGrace?: number;
  /** Longest line the process may write, in bytes (default 16 MiB). */
  readonly maxFrameBytes?: number;
  /**
   * Called once per protocol violation that no sink session judges (a map's, a fallback's, a
   * stray line, an exit between attempts), so the run summary's `protocolErrors` counts it.
   */
  readonly onProtocolError?: (code: string) => void;
}

export const DEFAULT_START_TIMEOUT_MS = 30_000;
export const DEFAULT_STOP_GRACE_MS = 5_000;
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

export interface ProcessAttempt {
  readonly epoch: number;
  readonly attempt: number;
  readonly messages: readonly Message[];
  /** Extra fields of the attempt's eot (a reduce process's `window` and `keys`). */
  readonly eot?: Readonly<Record<string, unknown>>;
}

export interface AttemptListener {
  /** Every frame of the attempt was handed to the process. */
  onSent(): void;
  onFrame(frame: AttemptFrame): void;
  /**
   * The attempt cannot be answered any more. `byProcess`: the process died, failed to start, or
   * broke the framing (a violation); otherwise Weir gave the attempt up (superseded, closed).
   */
  onCrash(reason: string, byProcess: boolean): void;
}

interface Listening {
  readonly listener: AttemptListener;
  readonly attempt: ProcessAttempt;
  /** The process the attempt's frames went to, once they did. */
  child: ProcessChild | undefined;
  released: boolean;
  crashed: boolean;
  /** `child` sent a frame of this attempt: from then on its death is this attempt's. */
  answering: boolean;
  /** Sent again to a new process after the first exited between attempts (once at most). */
  resent: boolean;
  sentReported: boolean;
}

/** Attempts remembered per process to recognise stale answers; more than enough for one partition. */
const SENT_ATTEMPTS_KEPT = 64;

const attemptKey = (where: AttemptFrameFields): string => `${where.partition}:${where.epoch}:${where.attempt}`;

export class ProcessWorker {
  readonly #options: ProcessCommandOptions;
  readonly #role: ProcessRole;
  readonly #vertex: string;
  readonly #partition: number;
  readonly #logger: Logger;
  #child: ProcessChild | undefined;
  #starting: Promise<ProcessChild> | undefined;
  #listening: Listening | undefined;
  /** Failures since the last attempt the process answered in full; drives the restart backoff. */
  #failures = 0;
  #lastFailureAt = 0;
  #backoffTimer: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  #closing: Promise<void> | undefined;
  /** Processes that completed the handshake: only their exits can fall between attempts. */
  readonly #started = new WeakSet<ProcessChild>();
  /** Processes that answered an attempt in full (an `endOfResults`). */
  readonly #answered = new WeakSet<ProcessChild>();
  /** Attempts written to the current process, oldest first (keys of `attemptKey`). */
  readonly #sentToChild = new Set<string>();

  constructor(vertex: string, partition: number, role: ProcessRole, options: ProcessCommandOptions, logger: Logger) {
    this.#vertex = vertex;
    this.#partition = partition;
    this.#role = role;
    this.#options = options;
    this.#logger = logger.child({ vertex, partition, role });
  }

  /**
   * Sends one attempt to the process (starting it if needed) and routes the process's frames
   * to `listener` until the returned `release` is called. Releasing never kills the process.
   */
  begin(attempt: ProcessAttempt, listener: AttemptListener): () => void {
    const previous = this.#listening;
    const listening: Listening = { listener, attempt, child: undefined, released: false, crashed: false, answering: false, resent: false, sentReported: false };
    this.#listening = listening;
    if (previous !== undefined && !previous.released) {
      this.#crash(previous, `superseded by epoch ${attempt.epoch} attempt ${attempt.attempt} before it was answered`, false);
    }
    void this.#send(listening);
    return () => {
      listening.released = true;
      if (this.#listening === listening) this.#listening = undefined;
    };
  }

  /** Stops the process (stdin closed, then SIGTERM, then SIGKILL). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#backoffTimer !== undefined) {
        clearTimeout(this.#backoffTimer.timer);
        this.#backoffTimer.wake();
      }
      if (this.#listening !== undefined) this.#crash(this.#listening, "the connector was closed", false);
      const child = this.#child;
      if (child !== undefined) await child.stop(this.#options.stopGrace ?? DEFAULT_STOP_GRACE_MS);
    })();
    return this.#closing;
  }

  async #send(listening: Listening): Promise<void> {
    const { attempt } = listening;
    let child: ProcessChild;
    try {
      child = await this.#ensureChild();
    } catch (error) {
      this.#crash(listening, error instanceof Error ? error.message : String(error), true);
      return;
    }
    // Given up while the process was starting: nothing of it is written.
    if (listening.released || listening.crashed) return;
    listening.child = child;
    const where = { partition: this.#partition, epoch: attempt.epoch, attempt: attempt.attempt };
    this.#rememberSent(where);
    try {
      await child.write(encodeAttempt(where, attempt.messages, undefined, attempt.eot));
    } catch (error) {
      const reason = `could not write to the process: ${error instanceof Error ? error.message : String(error)}`;
      // A process that is gone (or going: its exit is reported by `close`) is handled as an exit.
      if (child.hasExited) this.#onLost(listening, child, reason);
      else {
        // Its exit follows (EPIPE), or it closed stdin and can never be sent anything again.
        this.#logger.warn("could not write to the process; it is killed and restarted", { pid: child.pid, reason });
        child.kill();
      }
      return;
    }
    if (listening.released || listening.crashed || listening.sentReported) return;
    listening.sentReported = true;
    listening.listener.onSent();
  }

  #rememberSent(where: AttemptFrameFields): void {
    this.#sentToChild.add(attemptKey(where));
    if (this.#sentToChild.size > SENT_ATTEMPTS_KEPT) this.#sentToChild.delete(this.#sentToChild.values().next().value!);
  }

  #ensureChild(): Promise<ProcessChild> {
    if (this.#closing !== undefined) return Promise.reject(new Error("the connector is closed"));
    if (this.#child?.isRunning === true) return Promise.resolve(this.#child);
    this.#starting ??= this.#start().finally(() => (this.#starting = undefined));
    return this.#starting;
  }

  async #start(): Promise<ProcessChild> {
    const delay = this.#restartDelay();
    if (delay > 0) {
      this.#logger.info("restarting the process after a backoff", { delayMs: delay, failures: this.#failures });
      await new Promise<void>((resolve) => {
        this.#backoffTimer = { timer: setTimeout(resolve, delay), wake: resolve };
      });
      this.#backoffTimer = undefined;
    }
    if (this.#closing !== undefined) throw new Error("the connector is closed");
    const { command } = this.#options;
    let child: ProcessChild;
    try {
      child = this.#spawn();
    } catch (error) {
      // spawn() throws only for arguments it rejects outright (an empty command, say).
      this.#failures += 1;
      this.#lastFailureAt = monotonicNow();
      throw new Error(`could not start ${JSON.stringify(command)}: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.#child = child;
    this.#sentToChild.clear();
    try {
      await child.ready;
    } catch (error) {
      // Wait for the exit, so the failure is counted before the next start computes its backoff.
      child.kill();
      await child.exited;
      throw error;
    }
    this.#started.add(child);
    this.#logger.info("process started", { pid: child.pid, command });
    return child;
  }

  #spawn(): ProcessChild {
    return new ProcessChild({
      command: this.#options.command,
      env: {
        ...process.env,
        // Python buffers a piped stdout by default, which would hold frames back.
        PYTHONUNBUFFERED: "1",
        ...this.#options.env,
        WEIR_VERTEX: this.#vertex,
        WEIR_PARTITION: String(this.#partition),
        WEIR_ROLE: this.#role,
      },
      ...(this.#options.cwd === undefined ? {} : { cwd: this.#options.cwd }),
      role: this.#role,
      hello: encodeHello({ role: this.#role, vertex: this.#vertex, partition: this.#partition, partitions: this.#options.partitions }),
      startTimeoutMs: this.#options.startTimeout ?? DEFAULT_START_TIMEOUT_MS,
      maxFrameBytes: this.#options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      logger: this.#logger,
      onFrame: (from, frame) => this.#onFrame(from, frame),
      onMalformed: (from, reason, owner) => this.#onMalformed(from, reason, owner),
      onExit: (from, reason, requested) => this.#onExit(from, reason, requested),
    });
  }

  #restartDelay(): number {
    if (this.#failures === 0) return 0;
    const { interval, factor, cap } = this.#options.restartBackoff ?? defaultRestartBackoff;
    const wait = Math.min(cap, interval * factor ** (this.#failures - 1));
    // Monotonic: a wall clock stepped back once delayed a restart by an hour (issue #10 item 6).
    return Math.max(0, wait - elapsedSince(this.#lastFailureAt));
  }

  #onFrame(child: ProcessChild, frame: AttemptFrame): void {
    if (child !== this.#child) return;
    if (frame.type === "endOfResults") {
      // A complete answer shows the process works: the next failure starts the backoff afresh.
      this.#failures = 0;
      this.#answered.add(child);
    }
    const listening = this.#listening;
    if (listening !== undefined && listening.child === child && this.#isAttempt(frame, listening)) {
      listening.answering = true;
    } else if (this.#sentToChild.has(attemptKey(frame))) {
      // The answer to an attempt given up earlier (after a protocol error, a timeout): judged
      // against a later attempt it would be a second error for one misbehaviour.
      this.#logger.debug("frame of an attempt given up earlier; ignored", { type: frame.type, epoch: frame.epoch, attempt: frame.attempt });
      return;
    }
    if (listening === undefined) {
      this.#violation("UNEXPECTED_FRAME", `${frame.type} frame for partition ${frame.partition} epoch ${frame.epoch} attempt ${frame.attempt}, which was never sent to this process; ignored`, child);
      return;
    }
    listening.listener.onFrame(frame);
  }

  #isAttempt(where: AttemptFrameFields, listening: Listening): boolean {
    return where.partition === this.#partition && where.epoch === listening.attempt.epoch && where.attempt === listening.attempt.attempt;
  }

  #onMalformed(child: ProcessChild, reason: string, owner: MalformedOwner): void {
    const listening = this.#listening;
    const inProgress = listening !== undefined && listening.child === child ? listening : undefined;
    if (inProgress !== undefined && (owner === "inProgress" || (owner !== undefined && this.#isAttempt(owner, inProgress)))) {
      this.#logger.warn("malformed frame from the process", { pid: child.pid, reason });
      this.#crash(inProgress, `malformed frame: ${reason}`, true);
      return;
    }
    // A line that names no attempt (a print on stdout) may have been written before the process
    // even read the attempt in progress: it is the process's fault, not the attempt's.
    this.#violation("MALFORMED_FRAME", `a line on stdout that is not a frame of the attempt in progress; ignored: ${reason}`, child);
  }

  #onExit(child: ProcessChild, reason: string, requested: boolean): void {
    if (this.#child === child) this.#child = undefined;
    if (requested) {
      this.#logger.info("process stopped", { pid: child.pid });
      return;
    }
    this.#failures += 1;
    this.#lastFailureAt = monotonicNow();
    this.#logger.warn("process exited; it is restarted on the next attempt", { pid: child.pid, reason, failures: this.#failures });
    const listening = this.#listening;
    if (listening !== undefined && listening.child === child) this.#onLost(listening, child, reason);
    // A failed start is charged to the attempt that waited for it (#send), not counted here.
    else if (this.#started.has(child)) this.#violation("PROCESS_EXITED", `the process exited between attempts (${reason}); it is restarted on the next attempt`, child);
  }

  /**
   * The process an attempt was written to is gone. A process that answered its last attempt in
   * full and has sent nothing of this one exited between attempts: the attempt goes, once, to a
   * new process and is not charged (with `steps: 1` it would otherwise go to the fallback). Any
   * other loss is the attempt's: a message that kills its process must not loop.
   */
  #onLost(listening: Listening, child: ProcessChild, reason: string): void {
    if (listening.crashed || listening.released) return;
    if (!listening.answering && !listening.resent && this.#answered.has(child)) {
      listening.resent = true;
      listening.child = undefined;
      this.#violation("PROCESS_EXITED", `the process exited between attempts (${reason}); epoch ${listening.attempt.epoch} attempt ${listening.attempt.attempt} goes to a new process`, child);
      void this.#send(listening);
      return;
    }
    this.#crash(listening, reason, true);
  }

  /** A violation no attempt is charged with: logged and counted here, once. */
  #violation(code: string, message: string, child: ProcessChild): void {
    this.#logger.warn("protocol error", { pid: child.pid, code, error: message });
    this.#options.onProtocolError?.(code);
  }

  #crash(listening: Listening, reason: string, byProcess: boolean): void {
    if (listening.crashed || listening.released) return;
    listening.crashed = true;
    listening.listener.onCrash(reason, byProcess);
  }
}
