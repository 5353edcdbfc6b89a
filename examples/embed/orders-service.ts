/**
 * Weir's actors embedded in an app, without the runtime: a small HTTP service that moves orders
 * from its own in-memory queues (one per partition) to its own "warehouse", through
 * `@weir/actors`' supervisor, partition readers, batchers and sink sessions. The app supplies
 * the I/O — how to read a batch, how to ack it, how to write one — with `.provide()`; the
 * machines bring batching, epochs, EOT per partition, retries, fallback and drain.
 *
 *   POST /orders ──▶ queue[p] ──read──▶ reader(p) ──▶ batcher(p) ──▶ sink session(p) ──write──▶ warehouse
 *                        ▲                                                      │ failed twice
 *                        └────────ack (after the epoch commits)          └──▶ dead letters
 *
 *   GET  /state   every actor's state value, e.g. { "orders/reader/0": { active: { fetch: "reading", … } } }
 *   GET  /stats   what arrived where
 *   POST /orders  { item, qty, partition? } adds an order (JSON body, or an array of them)
 *   POST /drain   reads stop; what is in flight finishes and commits; the actors reach final states
 *
 * Run it: `pnpm build && node --import tsx examples/embed/main.ts` (see README.md here).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createActor, fromPromise, type AnyActorRef } from "xstate";
import {
  defaultRetryPolicy,
  fromPartitionIo,
  fromSinkFunction,
  partitionReaderMachine,
  sinkSessionMachine,
  supervisorMachine,
  type FallbackWriteInput,
  type Message,
  type ReadBatchInput,
  type ReadBatchOutput,
  type SinkResult,
  type SupervisorOutput,
} from "@weir/actors";

export interface Order {
  readonly id: string;
  readonly item: string;
  readonly qty: number;
}

export interface OrdersServiceOptions {
  readonly partitions?: number;
  /** Orders already waiting when the service starts. */
  readonly orders?: ReadonlyArray<Omit<Order, "id">>;
  /** `false`: the queues end once the initial orders are read (the actors then finish on their own). */
  readonly open?: boolean;
  /** The warehouse refuses the first write of every order whose qty is above this. */
  readonly flakyAboveQty?: number;
  /** The warehouse refuses every write of orders of this item (they end in the dead letters). */
  readonly refusedItem?: string;
}

export interface OrdersService {
  /** The supervisor actor (its children are the per-partition actors). */
  readonly actor: AnyActorRef;
  readonly server: Server;
  /** Starts the actors and listens on 127.0.0.1; resolves with the base URL. */
  start(port?: number): Promise<string>;
  /** Resolves with the supervisor's output once every actor reached a final state. */
  readonly done: Promise<SupervisorOutput>;
  /** Orders written, by id. */
  readonly warehouse: ReadonlyMap<string, Order>;
  readonly deadLetters: ReadonlyArray<{ readonly order: Order; readonly reason: string }>;
  drain(): void;
  close(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One partition's queue: orders in, a cursor for reads, offsets acked after commit. */
class OrderQueue {
  readonly entries: Message[] = [];
  private cursor = 0;
  private waiting: (() => void) | undefined;
  ended = false;
  readonly acked = new Set<string>();

  push(message: Message): void {
    this.entries.push(message);
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  /** Up to `max` new entries; waits up to `timeoutMs` when there are none (never past `signal`). */
  async read({ max, timeoutMs }: ReadBatchInput, signal: AbortSignal): Promise<ReadBatchOutput> {
    if (this.cursor === this.entries.length && !this.ended && timeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMs);
        signal.addEventListener("abort", done, { once: true });
        this.waiting = done;
        function done() {
          clearTimeout(timer);
          resolve();
        }
      });
    }
    if (signal.aborted) return { entries: [], endOfStream: false };
    const taken = this.entries.slice(this.cursor, this.cursor + max);
    const first = this.cursor;
    this.cursor += taken.length;
    return {
      entries: taken.map((message, i) => ({ offset: String(first + i), message })),
      endOfStream: this.ended && this.cursor === this.entries.length,
    };
  }

  ack(offsets: readonly string[]): void {
    for (const offset of offsets) this.acked.add(offset);
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }
}

/**
 * @example
 * ```ts
 * const service = createOrdersService({ partitions: 2, orders: [{ item: "tea", qty: 2 }], open: false });
 * const url = await service.start(0);
 * console.log(await (await fetch(`${url}/state`)).json());
 * await service.done;
 * ```
 */
export function createOrdersService(options: OrdersServiceOptions = {}): OrdersService {
  const partitions = options.partitions ?? 2;
  const queues = Array.from({ length: partitions }, () => new OrderQueue());
  const warehouse = new Map<string, Order>();
  const deadLetters: Array<{ order: Order; reason: string }> = [];
  const refusedOnce = new Set<string>();
  let nextId = 0;

  const addOrder = (order: Omit<Order, "id"> & { partition?: number }): Order => {
    const id = `order-${nextId}`;
    const partition = order.partition ?? nextId % partitions;
    nextId += 1;
    const full: Order = { id, item: order.item, qty: order.qty };
    queues[partition]!.push({ id, keys: [order.item], value: encoder.encode(JSON.stringify(full)), eventTime: Date.now(), headers: {} });
    return full;
  };
  for (const order of options.orders ?? []) addOrder(order);
  if (options.open === false) queues.forEach((queue) => queue.end());

  // The app's sink: one result per order, as the sink session expects (DESIGN §4.1).
  const writeToWarehouse = async (messages: readonly Message[]): Promise<SinkResult[]> =>
    messages.map((message) => {
      const order = JSON.parse(decoder.decode(message.value)) as Order;
      if (order.item === options.refusedItem) return { id: message.id, status: "failure", error: `the warehouse does not stock ${order.item}` };
      if (options.flakyAboveQty !== undefined && order.qty > options.flakyAboveQty && !refusedOnce.has(order.id)) {
        refusedOnce.add(order.id);
        return { id: message.id, status: "failure", error: "the warehouse is busy; try again" };
      }
      warehouse.set(order.id, order);
      return { id: message.id, status: "ok" };
    });

  const machine = supervisorMachine.provide({
    actors: {
      partitionReader: partitionReaderMachine.provide({
        actors: {
          // One I/O actor per reader for its whole life; it calls these for each read and ack.
          readerIo: fromPartitionIo({
            read: (input, signal) => queues[input.partition]!.read(input, signal),
            ack: async (input) => queues[input.partition]!.ack(input.offsets),
          }),
        },
      }),
      sinkSession: sinkSessionMachine.provide({
        actors: {
          sinkWriter: fromSinkFunction(writeToWarehouse),
          fallbackWriter: fromPromise<void, FallbackWriteInput>(async ({ input }) => {
            for (const item of input.items) deadLetters.push({ order: JSON.parse(decoder.decode(item.message.value)) as Order, reason: item.reason });
          }),
        },
      }),
    },
  });

  const actor = createActor(machine, {
    id: "orders",
    input: {
      vertex: "orders",
      partitions,
      readBatchSize: 50,
      readTimeoutMs: 20,
      maxInflightEpochs: 2,
      retry: { ...defaultRetryPolicy, intervalMs: 5, steps: 2, onFailure: "fallback" },
      resultTimeoutMs: 5000,
    },
  });
  const done = new Promise<SupervisorOutput>((resolve, reject) => {
    actor.subscribe({ complete: () => resolve(actor.getSnapshot().output!), error: reject });
  });

  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => reply(response, 500, { error: String(error) }));
  });

  const route = async (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method === "GET" && path === "/state") return reply(response, 200, actorStates(actor));
    if (request.method === "GET" && path === "/stats") {
      return reply(response, 200, {
        written: warehouse.size,
        deadLetters: deadLetters.length,
        acked: queues.map((queue) => queue.acked.size),
        queued: queues.map((queue) => queue.entries.length),
      });
    }
    if (request.method === "POST" && path === "/orders") {
      const body = JSON.parse((await readBody(request)) || "null") as unknown;
      const list = (Array.isArray(body) ? body : [body]) as Array<Omit<Order, "id"> & { partition?: number }>;
      if (list.some((order) => typeof order?.item !== "string" || typeof order.qty !== "number")) {
        return reply(response, 400, { error: "send { item: string, qty: number, partition?: number } or an array of them" });
      }
      if (queues.some((queue) => queue.ended)) return reply(response, 409, { error: "the service is draining; no new orders" });
      return reply(response, 202, { accepted: list.map(addOrder).map((order) => order.id) });
    }
    if (request.method === "POST" && path === "/drain") {
      service.drain();
      return reply(response, 202, { draining: true });
    }
    return reply(response, 404, { error: "GET /state, GET /stats, POST /orders, POST /drain" });
  };

  const service: OrdersService = {
    actor,
    server,
    done,
    warehouse,
    deadLetters,
    async start(port = 0) {
      actor.start();
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
      const address = server.address();
      return `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : port}`;
    },
    drain() {
      // Ending the queues drains the readers (end of stream); the supervisor then closes the
      // last epoch, commits it and stops every actor.
      queues.forEach((queue) => queue.end());
    },
    async close() {
      actor.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return service;
}

/**
 * `{ status, states }`: the supervisor's state and each partition actor's, named by their system
 * ids (`orders/reader/0`, `orders/batcher/0`, `orders/sink/0` …).
 */
export function actorStates(actor: AnyActorRef): { status: string; states: Record<string, unknown> } {
  const snapshot = actor.getSnapshot() as { status: string; value: unknown; children: Record<string, AnyActorRef | undefined> };
  const states: Record<string, unknown> = { [actor.id]: snapshot.value };
  for (const child of Object.values(snapshot.children)) {
    // `systemId` is on every actor, though not on the AnyActorRef type.
    const systemId = (child as { systemId?: string } | undefined)?.systemId;
    if (child === undefined || systemId === undefined) continue; // an invoked I/O actor, not a partition actor
    const childSnapshot = child.getSnapshot() as { value?: unknown; status: string };
    states[systemId] = childSnapshot.value ?? childSnapshot.status;
  }
  return { status: snapshot.status, states };
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" }).end(`${JSON.stringify(body)}\n`);
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (body += chunk));
    request.on("end", () => resolve(body));
    request.on("error", reject);
  });
}
