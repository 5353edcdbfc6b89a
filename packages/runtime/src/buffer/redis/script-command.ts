/**
 * Runs one of Weir's scripts with arguments written by a {@link RespArgs} (issue 12: the calls that
 * carry an argument or two per message), as `runScript` (scripts.ts) runs it with an argument list:
 * EVALSHA, EVAL the first time on a connection and after a NOSCRIPT — the same rule as ioredis's
 * `defineCommand`, which this mirrors (ioredis `Script.js`) — through the client's `sendCommand`, so
 * the connection's gate, reconnects, resends and Redis Cluster's slot routing apply unchanged (the
 * command's listed arguments are the sha, the key count and the keys, which is what routing reads).
 */
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import type { Command as IoredisCommand } from "ioredis";
import type { RedisClient } from "./redis-connection.js";
import { RESP_HEADROOM, RespArgs } from "./resp-args.js";
import { scripts, type ScriptName } from "./scripts.js";

interface LoadedScript {
  readonly sha: string;
  /** `$40\r\n<sha>\r\n`, written before the arguments of every EVALSHA. */
  readonly shaArg: Buffer;
  /** `$<n>\r\n<lua>\r\n`, for the EVAL that loads the script on a connection. */
  readonly luaArg: Buffer;
  /** Connections (sockets) the script was sent to with EVAL; cleared for one on its NOSCRIPT. */
  readonly loadedOn: WeakSet<object>;
}

const loaded = new Map<ScriptName, LoadedScript>();

function loadedScript(name: ScriptName): LoadedScript {
  let script = loaded.get(name);
  if (script === undefined) {
    const lua = scripts[name].lua;
    const sha = createHash("sha1").update(lua).digest("hex");
    script = {
      sha,
      shaArg: Buffer.from(`$40\r\n${sha}\r\n`, "latin1"),
      luaArg: Buffer.from(`$${Buffer.byteLength(lua)}\r\n${lua}\r\n`, "utf8"),
      loadedOn: new WeakSet(),
    };
    loaded.set(name, script);
  }
  return script;
}

/**
 * Runs script `name` on `keys` with the arguments `write` writes (at most `bound` bytes, each
 * argument counted with {@link RespArgs.bulkBound}). `buffers: true` answers bulk strings as
 * Buffers, otherwise as strings (as `runScript`).
 */
export function runScriptWith(client: RedisClient, name: ScriptName, keys: readonly string[], bound: number, write: (args: RespArgs) => void, buffers = false): Promise<unknown> {
  const definition = scripts[name];
  let keysBound = RespArgs.bulkBound(10);
  for (const key of keys) keysBound += RespArgs.stringBound(key);
  const args = new RespArgs(keysBound + bound);
  args.number(definition.numberOfKeys);
  for (const key of keys) args.string(key);
  write(args);
  const script = loadedScript(name);
  const send = (): Promise<unknown> => {
    const command = new (scriptCommandClass())(script, keys, args, buffers);
    (client as unknown as { sendCommand(command: IoredisCommand): unknown }).sendCommand(command);
    return command.promise;
  };
  // A NOSCRIPT (a restarted or flushed Redis) is answered by sending it again: the connection is
  // then marked unloaded, so it goes as EVAL (ioredis Script.execute does the same).
  return send().catch((error: unknown) => {
    if (error instanceof Error && error.message.includes("NOSCRIPT")) return send();
    throw error;
  });
}

type ScriptCommandClass = new (script: LoadedScript, keys: readonly string[], args: RespArgs, buffers: boolean) => IoredisCommand;
let commandClass: ScriptCommandClass | undefined;

/** The command class, defined once ioredis is loaded (ioredis stays unloaded until a connection needs it, issue 11). */
function scriptCommandClass(): ScriptCommandClass {
  if (commandClass !== undefined) return commandClass;
  const { Command } = createRequire(import.meta.url)("ioredis") as typeof import("ioredis");
  class ScriptCommand extends Command {
    private readonly script: LoadedScript;
    private readonly argBytes: RespArgs;

    constructor(script: LoadedScript, keys: readonly string[], args: RespArgs, buffers: boolean) {
      super("evalsha", [script.sha, keys.length, ...keys], buffers ? {} : { replyEncoding: "utf8" });
      this.script = script;
      this.argBytes = args;
    }

    override toWritable(socket: object): Buffer {
      const { script, argBytes } = this;
      const reject = this.reject;
      this.reject = (error: Error) => {
        if (error.message.includes("NOSCRIPT")) script.loadedOn.delete(socket);
        reject.call(this, error);
      };
      const count = `*${argBytes.count + 2}\r\n`;
      const buffer = argBytes.buffer;
      if (!script.loadedOn.has(socket)) {
        script.loadedOn.add(socket);
        return Buffer.concat([Buffer.from(`${count}$4\r\neval\r\n`, "latin1"), script.luaArg, buffer.subarray(RESP_HEADROOM, argBytes.end)]);
      }
      // EVALSHA's name and sha go into the room left before the arguments: no copy of them.
      const start = RESP_HEADROOM - script.shaArg.length - 13 - count.length;
      let pos = start + buffer.write(count, start, "latin1");
      pos += buffer.write("$7\r\nevalsha\r\n", pos, "latin1");
      script.shaArg.copy(buffer, pos);
      return buffer.subarray(start, argBytes.end);
    }
  }
  commandClass = ScriptCommand;
  return commandClass;
}
