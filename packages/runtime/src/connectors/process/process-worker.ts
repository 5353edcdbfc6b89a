/**
 * The external process of one partition of one vertex: started lazily on the first attempt,
 * restarted with backoff after it dies, stopped on close. Never shared between partitions
 * (DESIGN §2.1: one partition's frames can never reach another's session).
 *
 *   begin(attempt) ──▶ ensure a process (backoff after a failure, spawn, hello/ready)
 *                  ──▶ write data… eot ──▶ listener.onSent
 *   process frames ──▶ listener.onFrame     (as they are: the listener judges them)
 *   malformed frame / exit / failed start ──▶ listener.onCrash(reason)
 *   release() ──▶ listener detached; the process keeps running for the next attempt
 *
 * One listener at a time: the attempt in progress. A frame that arrives while no attempt is
 * listening answers an attempt that was already given up, so it is dropped (logged at debug).
 */
import type { Message } from "@weir/actors";
import type { Logger } from "../../observability/logger.js";
import { elapsedSince, monotonicNow } from "../../time/monotonic-clock.js";
import { ProcessChild } from "./process-child.js";
import { encodeAttempt, encodeHello, type AttemptFrame, type ProcessRole } from "./process-frames.js";

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
}

export const DEFAULT_START_TIMEOUT_MS = 30_000;
export const DEFAULT_STOP_GRACE_MS = 5_000;
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

export interface ProcessAttempt {
  readonly epoch: number;
  readonly attempt: number;
  readonly messages: readonly Message[];
}

export interface AttemptListener {
  /** Every frame of the attempt was handed to the process. */
  onSent(): void;
  onFrame(frame: AttemptFrame): void;
  /** The attempt cannot be answered any more: the process died, failed to start, or broke the framing. */
  onCrash(reason: string): void;
}

interface Listening {
  readonly listener: AttemptListener;
  /** The process the attempt's frames went to, once they did. */
  child: ProcessChild | undefined;
  released: boolean;
  crashed: boolean;
}

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
    const listening: Listening = { listener, child: undefined, released: false, crashed: false };
    this.#listening = listening;
    if (previous !== undefined && !previous.released) {
      this.#crash(previous, `superseded by epoch ${attempt.epoch} attempt ${attempt.attempt} before it was answered`);
    }
    void this.#send(attempt, listening);
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
      if (this.#listening !== undefined) this.#crash(this.#listening, "the connector was closed");
      const child = this.#child;
      if (child !== undefined) await child.stop(this.#options.stopGrace ?? DEFAULT_STOP_GRACE_MS);
    })();
    return this.#closing;
  }

  async #send(attempt: ProcessAttempt, listening: Listening): Promise<void> {
    let child: ProcessChild;
    try {
      child = await this.#ensureChild();
    } catch (error) {
      this.#crash(listening, error instanceof Error ? error.message : String(error));
      return;
    }
    // Given up while the process was starting: nothing of it is written.
    if (listening.released || listening.crashed) return;
    listening.child = child;
    const frames = encodeAttempt({ partition: this.#partition, epoch: attempt.epoch, attempt: attempt.attempt }, attempt.messages);
    try {
      await child.write(frames);
    } catch (error) {
      this.#crash(listening, `could not write to the process: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (!listening.released && !listening.crashed) listening.listener.onSent();
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
    try {
      await child.ready;
    } catch (error) {
      // Wait for the exit, so the failure is counted before the next start computes its backoff.
      child.kill();
      await child.exited;
      throw error;
    }
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
      onMalformed: (from, reason) => this.#onMalformed(from, reason),
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
    // A complete answer shows the process works: the next failure starts the backoff afresh.
    if (frame.type === "endOfResults") this.#failures = 0;
    const listening = this.#listening;
    if (listening === undefined) {
      this.#logger.debug("frame outside any attempt; ignored", { type: frame.type, epoch: frame.epoch, attempt: frame.attempt });
      return;
    }
    listening.listener.onFrame(frame);
  }

  #onMalformed(child: ProcessChild, reason: string): void {
    this.#logger.warn("malformed frame from the process", { pid: child.pid, reason });
    const listening = this.#listening;
    if (listening !== undefined && listening.child === child) this.#crash(listening, `malformed frame: ${reason}`);
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
    if (listening !== undefined && listening.child === child) this.#crash(listening, reason);
  }

  #crash(listening: Listening, reason: string): void {
    if (listening.crashed || listening.released) return;
    listening.crashed = true;
    listening.listener.onCrash(reason);
  }
}
