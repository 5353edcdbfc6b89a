/**
 * `weir run --inspect`: streams the live actor system to the Stately inspector.
 *
 *   actors ──inspect──▶ trim (state values, batch summaries; names by path)
 *          ──▶ createWebSocketInspector (@statelyai/inspect) ──▶ inspector server ──▶ browser
 *
 * What the inspector gets is trimmed before it is serialised: contexts and events keep their
 * scalar fields, batches of messages become `{ $batch: n, first, last }`, bytes their length. So
 * the inspector costs a little per event instead of a copy of every message, and message
 * bodies never leave the process. Actors are named by their path (`out/reader/1`), not by the
 * child id they share with every other vertex (`reader-1`).
 */
import type { ActorRefLike, AnyEventObject, InspectionEvent, Observer } from "xstate";
import { actorPath } from "./actor-path.js";
import { startInspectorServer, type InspectorServerStats } from "./inspector-server.js";
import { summarizeForTrace } from "./trace-format.js";

export interface LiveInspectorOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** How long to wait for the run's own connection to the server. Default 5 s. */
  readonly connectTimeoutMs?: number;
}

export interface LiveInspector {
  /** The page to open in a browser. */
  readonly url: string;
  readonly port: number;
  /** Pass to `createPipeline(spec, { inspect })`. */
  readonly inspect: Observer<InspectionEvent>;
  /** Resolves once a browser (or any viewer) is connected. */
  waitForViewer(signal?: AbortSignal): Promise<void>;
  stats(): InspectorServerStats;
  /** Sends what is still queued, then closes the connection and the server. Idempotent. */
  close(): Promise<void>;
}

export async function startLiveInspector(options: LiveInspectorOptions): Promise<LiveInspector> {
  const server = await startInspectorServer({ port: options.port });
  // Imported here, not at the top: only `--inspect` needs it (issue #11: start-up time, memory).
  const { createWebSocketInspector } = await import("@statelyai/inspect");
  const inspector = createWebSocketInspector({ url: server.publishUrl, maxDeferredEvents: 10_000 });
  try {
    await server.waitForPublisher(options.connectTimeoutMs ?? 5000);
  } catch (error) {
    inspector.stop();
    await server.close();
    throw error;
  }
  const forward = inspector.inspect;
  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    inspect: {
      next(event) {
        const trimmed = trimInspection(event);
        if (trimmed !== undefined) forward.next?.(trimmed);
      },
    },
    waitForViewer: (signal) => server.waitForViewer(signal),
    stats: () => server.stats(),
    close() {
      closing ??= (async () => {
        // The Stately inspector converts each event on a later timer tick; let the last ones go out.
        await new Promise((resolve) => setTimeout(resolve, 50));
        inspector.stop();
        await server.close();
      })();
      return closing;
    },
  };
}

interface RefFields {
  readonly sessionId: string;
  readonly logic?: unknown;
  readonly _parent?: unknown;
  getSnapshot(): unknown;
}

/**
 * The inspection event with what the Stately inspector serialises cut down; undefined for
 * events it does not show (actions, microsteps).
 */
export function trimInspection(event: InspectionEvent): InspectionEvent | undefined {
  switch (event.type) {
    case "@xstate.actor":
      return { ...event, actorRef: namedRef(event.actorRef) };
    case "@xstate.snapshot":
      return { ...event, event: summarizeForTrace(event.event) as AnyEventObject, snapshot: trimSnapshot(event.snapshot) as never };
    case "@xstate.event":
      return { ...event, event: summarizeForTrace(event.event) as AnyEventObject };
    default:
      return undefined;
  }
}

/** The actor as the inspector reads it, named by its path and with a trimmed snapshot. */
function namedRef(ref: ActorRefLike): ActorRefLike {
  const actor = ref as unknown as RefFields;
  const name = actorPath(ref);
  return {
    id: name,
    sessionId: actor.sessionId,
    logic: actor.logic,
    _parent: actor._parent,
    send: () => undefined,
    getSnapshot: () => trimSnapshot(actor.getSnapshot()),
  } as unknown as ActorRefLike;
}

function trimSnapshot(snapshot: unknown): unknown {
  const { status, value, context, output, error } = (snapshot ?? {}) as { status?: string; value?: unknown; context?: unknown; output?: unknown; error?: unknown };
  return {
    status,
    ...(value === undefined ? {} : { value }),
    ...(context === undefined ? {} : { context: summarizeForTrace(context) }),
    ...(output === undefined ? {} : { output: summarizeForTrace(output) }),
    ...(error === undefined ? {} : { error: error instanceof Error ? error.message : String(error) }),
  };
}
