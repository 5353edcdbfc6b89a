/**
 * One run of an external process: spawned, greeted, fed frames, read, and ended. A new
 * `ProcessChild` is made for every (re)start; `ProcessWorker` decides when.
 *
 *   spawn ──hello──▶ handshaking ──ready──▶ running ──stdin closed / killed──▶ exited
 *                        │ bad frame, wrong protocol, startTimeout, exit
 *                        ▼
 *                  killed (SIGKILL) ──▶ exited          (`ready` rejects)
 *
 * stdout carries frames only; each line is parsed and validated. stderr is logged line by line
 * at `warn` with the worker's labels and its last lines are kept for the crash report, never parsed.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import type { Logger } from "../../observability/logger.js";
import { LineSplitter } from "./line-splitter.js";
import { parseProcessLine, PROTOCOL_VERSION, type AttemptFrame, type AttemptFrameFields, type ProcessRole } from "./process-frames.js";

/**
 * Which attempt a malformed line belongs to: the one it names, the one in progress (a line over
 * the size limit is a frame, not a stray print), or none that can be told (`undefined`).
 */
export type MalformedOwner = AttemptFrameFields | "inProgress" | undefined;

export interface ProcessChildOptions {
  readonly command: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly role: ProcessRole;
  /** The encoded `hello` frame, written first. */
  readonly hello: string;
  readonly startTimeoutMs: number;
  readonly maxFrameBytes: number;
  readonly logger: Logger;
  /** A frame of an attempt (after the handshake). */
  readonly onFrame: (child: ProcessChild, frame: AttemptFrame) => void;
  /** A line on stdout that is not a valid frame (after the handshake). */
  readonly onMalformed: (child: ProcessChild, reason: string, owner: MalformedOwner) => void;
  /** Called once, when the process is gone; `requested` when `stop()` asked for it. */
  readonly onExit: (child: ProcessChild, reason: string, requested: boolean) => void;
}

const STDERR_LINE_BYTES = 64 * 1024;
const STDERR_TAIL_LINES = 12;
const STDERR_TAIL_CHARS = 300;

export class ProcessChild {
  /** Resolves once the process answered `ready`; rejects (and the process is killed) otherwise. */
  readonly ready: Promise<void>;
  /** Resolves once the process has exited and its stdout was read to the end. */
  readonly exited: Promise<void>;
  readonly #options: ProcessChildOptions;
  readonly #process: ChildProcessWithoutNullStreams;
  readonly #stderrTail: string[] = [];
  #phase: "handshaking" | "running" | "exited" = "handshaking";
  #stopRequested = false;
  /** Why Weir killed the process, when it did. */
  #killReason: string | undefined;
  #settleReady!: (error?: Error) => void;
  #markExited!: () => void;

  constructor(options: ProcessChildOptions) {
    this.#options = options;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#settleReady = (error) => (error === undefined ? resolve() : reject(error));
    });
    // Nobody may be waiting on `ready` when it fails (a close during the handshake).
    this.ready.catch(() => undefined);
    this.exited = new Promise<void>((resolve) => (this.#markExited = resolve));
    const [file, ...args] = options.command;
    this.#process = spawn(file!, args, { cwd: options.cwd, env: options.env, stdio: ["pipe", "pipe", "pipe"] });
    this.#wire();
    const timer = setTimeout(() => this.#failHandshake(`no ready frame within ${options.startTimeoutMs}ms of the hello`), options.startTimeoutMs);
    void this.ready.then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    );
    void this.write(options.hello).catch(() => undefined);
  }

  get pid(): number | undefined {
    return this.#process.pid;
  }

  get isRunning(): boolean {
    return this.#phase === "running";
  }

  get hasExited(): boolean {
    return this.#phase === "exited";
  }

  /** The last lines the process wrote to stderr, for crash reports. */
  stderrTail(): string {
    return this.#stderrTail.join(" | ");
  }

  /** Writes frames; resolves once they are handed to the OS, rejects when the process is gone. */
  write(text: string): Promise<void> {
    const stdin = this.#process.stdin;
    if (this.#phase === "exited" || stdin.destroyed || stdin.writableEnded) {
      return Promise.reject(new Error("the process has exited"));
    }
    return new Promise<void>((resolve, reject) => {
      stdin.write(text, (error) => (error ? reject(error) : resolve()));
    });
  }

  /**
   * Ends the process politely: stdin is closed (the protocol's "exit now"), then SIGTERM after
   * `graceMs`, then SIGKILL after another `graceMs`. Resolves once it has exited.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopRequested = true;
    if (this.#phase === "exited") return this.exited;
    this.#settleReady(new Error("the process was stopped before it was ready"));
    this.#process.stdin.end();
    if (await this.#exitsWithin(graceMs)) return;
    this.#options.logger.warn("process did not exit after stdin closed; sending SIGTERM", { pid: this.pid, graceMs });
    this.#process.kill("SIGTERM");
    if (await this.#exitsWithin(graceMs)) return;
    this.#options.logger.warn("process ignored SIGTERM; sending SIGKILL", { pid: this.pid });
    this.#process.kill("SIGKILL");
    return this.exited;
  }

  /** Ends the process at once (a broken handshake); its exit is reported as a failure. */
  kill(): void {
    if (this.#phase !== "exited") this.#process.kill("SIGKILL");
  }

  #exitsWithin(ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void this.exited.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  #wire(): void {
    const { logger } = this.#options;
    const child = this.#process;
    const stdout = new LineSplitter({
      maxLineBytes: this.#options.maxFrameBytes,
      onLine: (line) => this.#onLine(line),
      onOversize: (bytes) => this.#onBadLine(`a frame of ${bytes} bytes, over the limit of ${this.#options.maxFrameBytes}; it was discarded`, "inProgress"),
    });
    const stderr = new LineSplitter({
      maxLineBytes: STDERR_LINE_BYTES,
      onLine: (line) => this.#onStderr(line),
      onOversize: (bytes) => this.#onStderr(`(a stderr line of ${bytes} bytes was left out)`),
    });
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stdout.on("end", () => stdout.end());
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.stderr.on("end", () => stderr.end());
    // EPIPE and friends: the process went away; its exit is reported by `close`.
    child.stdin.on("error", (error) => logger.debug("process stdin closed", { pid: this.pid, error: error.message }));
    child.on("error", (error) => {
      // Spawn failures (ENOENT, EACCES) come only as `error`; no `close` follows when no
      // process was ever started.
      if (child.pid === undefined) {
        const where = this.#options.cwd === undefined ? "" : ` in ${this.#options.cwd}`;
        this.#exit(`could not start ${JSON.stringify(this.#options.command[0])}${where}: ${error.message}`);
      }
      else logger.warn("process error", { pid: this.pid, error: error.message });
    });
    // `close` (not `exit`): stdout has been read to the end, so every frame the process wrote
    // before it died is handled before its death is.
    child.on("close", (code, signal) => {
      const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code ?? "unknown"}`;
      this.#exit(`the process ${how}`);
    });
  }

  #onLine(line: string): void {
    if (line.trim() === "") return;
    const parsed = parseProcessLine(line, this.#options.role);
    if ("malformed" in parsed) {
      this.#onBadLine(parsed.malformed, parsed.names);
      return;
    }
    const { frame } = parsed;
    if (this.#phase === "handshaking") {
      if (frame.type !== "ready") {
        this.#failHandshake(`the first frame must be ready, got ${frame.type}`);
      } else if (frame.protocol !== PROTOCOL_VERSION) {
        this.#failHandshake(`the process speaks protocol ${frame.protocol}; Weir speaks ${PROTOCOL_VERSION}`);
      } else {
        this.#phase = "running";
        this.#settleReady();
      }
      return;
    }
    if (this.#phase !== "running") return;
    if (frame.type === "ready") {
      this.#options.onMalformed(this, "a second ready frame", undefined);
      return;
    }
    this.#options.onFrame(this, frame);
  }

  #onBadLine(reason: string, owner: MalformedOwner): void {
    if (this.#phase === "handshaking") this.#failHandshake(reason);
    else if (this.#phase === "running") this.#options.onMalformed(this, reason, owner);
  }

  #onStderr(line: string): void {
    if (line === "") return;
    this.#stderrTail.push(line.length > STDERR_TAIL_CHARS ? `${line.slice(0, STDERR_TAIL_CHARS)}…` : line);
    if (this.#stderrTail.length > STDERR_TAIL_LINES) this.#stderrTail.shift();
    // warn, the CLI's default level: a user's print(…, file=sys.stderr) is meant to be seen (#11).
    this.#options.logger.warn("process stderr", { pid: this.pid, line });
  }

  #failHandshake(reason: string): void {
    if (this.#phase !== "handshaking") return;
    this.#killReason = `handshake failed: ${reason}`;
    this.#settleReady(new Error(this.#killReason));
    this.kill();
  }

  #exit(reason: string): void {
    if (this.#phase === "exited") return;
    const wasHandshaking = this.#phase === "handshaking";
    this.#phase = "exited";
    const tail = this.stderrTail();
    const why = this.#killReason === undefined ? reason : `${this.#killReason} (${reason})`;
    const full = tail === "" ? why : `${why}; stderr: ${tail}`;
    if (wasHandshaking) this.#settleReady(new Error(this.#killReason === undefined ? `no ready frame: ${full}` : full));
    this.#options.onExit(this, full, this.#stopRequested);
    this.#markExited();
  }
}
