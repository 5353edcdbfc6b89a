/**
 * Sends a framed write as `MULTI / XADD <frame> / EVAL <frame commit> / EXEC` (frame-commit-script.ts:
 * why, and what the commit does), the bytes written straight into one buffer by a {@link RespArgs} as
 * the script calls' are (script-command.ts). Four ioredis commands go out in one synchronous step, so
 * nothing else on the connection can come between them, and each reply finds its command:
 *
 * ```
 *   multi ──toWritable──▶ every byte of the four   (+OK)
 *   xadd, eval ─────────▶ nothing                   (+QUEUED, +QUEUED)
 *   exec ───────────────▶ nothing                   ([entry id | nil, commit reply]) ──▶ the caller
 * ```
 *
 * They are marked as one pipeline (`pipelineIndex` 0…3) in a transaction (`inTransaction`), as
 * ioredis marks its own MULTI: when the connection drops with only part of the replies in, ioredis
 * aborts the rest ("Command aborted due to connection close", a retriable connection error) rather
 * than resending a fragment; with none in, it resends all four, and `multi` writes every byte again.
 * A resend after an EXEC that ran finds its ids known: the commit takes the entry back and the
 * caller's frameWrite deduplicates. The commit goes as EVAL the first time on a connection, EVALSHA
 * after (frame-commit-script.ts: and what a NOSCRIPT then means). Standalone Redis only: Redis Cluster routes each command by its
 * own keys (MULTI has none), so a cluster client keeps the one-script write.
 */
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import type { Command as IoredisCommand } from "ioredis";
import { FRAME_COMMIT_LUA } from "./frame-commit-script.js";
import type { RedisClient } from "./redis-connection.js";
import { RESP_HEADROOM, RespArgs } from "./resp-args.js";

/** What the transaction's EXEC answered: the XADD's reply (the entry id, or null) and the commit's. */
export interface FrameTransactionReply {
  readonly entry: unknown;
  readonly commit: unknown;
}

const MULTI_XADD = Buffer.from("*1\r\n$5\r\nMULTI\r\n*6\r\n$4\r\nXADD\r\n", "latin1");
const EXEC = Buffer.from("*1\r\n$4\r\nEXEC\r\n", "latin1");
const LUA_ARG = Buffer.from(`$${Buffer.byteLength(FRAME_COMMIT_LUA)}\r\n${FRAME_COMMIT_LUA}\r\n`, "utf8");
const SHA_ARG = Buffer.from(`$40\r\n${createHash("sha1").update(FRAME_COMMIT_LUA).digest("hex")}\r\n`, "latin1");
/** Connections (sockets) the commit was sent to with EVAL, as script-command.ts keeps them; one goes on its NOSCRIPT. */
const loadedOn = new WeakSet<object>();

/**
 * Writes the XADD's arguments (stream, NOMKSTREAM, *, f, the frame) then the commit's (key count,
 * keys, capacity, window, upstreams, ids) into one {@link RespArgs}; `xaddArgs` must write the five
 * first and `evalArgs` the rest.
 */
export interface FrameTransactionArgs {
  readonly bound: number;
  xaddArgs(args: RespArgs): void;
  evalArgs(args: RespArgs): void;
}

/** Whether `client` can take the transaction (a standalone client: see the module doc). */
export function takesFrameTransaction(client: RedisClient): boolean {
  return (client as { isCluster?: boolean }).isCluster !== true;
}

/** Sends the transaction; resolves with EXEC's reply, rejects with EXEC's error (EXECABORT, a lost connection). */
export function sendFrameTransaction(client: RedisClient, write: FrameTransactionArgs): Promise<FrameTransactionReply> {
  const args = new RespArgs(write.bound);
  write.xaddArgs(args);
  const xaddEnd = args.end;
  const xaddCount = args.count;
  write.evalArgs(args);
  const evalCount = args.count - xaddCount + 2;
  let sentOn: object | undefined;
  const bytes = (socket: object): Buffer => {
    sentOn = socket;
    // EVAL the first time on a connection (it loads the script), EVALSHA after: no text to hash.
    const loaded = loadedOn.has(socket);
    loadedOn.add(socket);
    const evalHeader = Buffer.from(`*${evalCount}\r\n${loaded ? "$7\r\nEVALSHA" : "$4\r\nEVAL"}\r\n`, "latin1");
    return Buffer.concat([MULTI_XADD, args.buffer.subarray(RESP_HEADROOM, xaddEnd), evalHeader, loaded ? SHA_ARG : LUA_ARG, args.buffer.subarray(xaddEnd, args.end), EXEC]);
  };
  const Part = transactionPartClass();
  const parts = [new Part("multi", bytes), new Part("xadd", undefined), new Part("eval", undefined), new Part("exec", undefined)];
  const sender = client as unknown as { sendCommand(command: IoredisCommand): unknown };
  parts.forEach((part, index) => {
    part.pipelineIndex = index;
    part.inTransaction = index === 1 || index === 2;
    // Only EXEC's answer is the caller's; the others' failures show there too (EXECABORT, the abort).
    if (index < 3) part.promise.catch(() => undefined);
    sender.sendCommand(part);
  });
  return (parts[3] as IoredisCommand).promise.then((reply) => {
    const [entry, commit] = reply as [unknown, unknown];
    if (commit instanceof Error && commit.message.includes("NOSCRIPT") && sentOn !== undefined) loadedOn.delete(sentOn);
    return { entry, commit };
  });
}

type TransactionPartClass = new (name: string, bytes: ((socket: object) => Buffer) | undefined) => IoredisCommand;
let partClass: TransactionPartClass | undefined;

/** The command class, defined once ioredis is loaded (ioredis stays unloaded until a connection needs it, issue 11). */
function transactionPartClass(): TransactionPartClass {
  if (partClass !== undefined) return partClass;
  const { Command } = createRequire(import.meta.url)("ioredis") as typeof import("ioredis");
  class TransactionPart extends Command {
    private readonly bytes: ((socket: object) => Buffer) | undefined;

    constructor(name: string, bytes: ((socket: object) => Buffer) | undefined) {
      super(name, [], { replyEncoding: "utf8" });
      this.bytes = bytes;
    }

    override toWritable(socket: object): string | Buffer {
      return this.bytes === undefined ? "" : this.bytes(socket);
    }
  }
  partClass = TransactionPart;
  return partClass;
}
