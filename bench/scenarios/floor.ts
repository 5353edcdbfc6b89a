/**
 * The floor under Weir's memory scenarios: the same generator, memory buffers and forwarder as
 * `weir.ts --buffer memory`, driven by plain async loops instead of actors — one loop per
 * partition that reads, forwards (or sinks), acks, and repeats until end of stream. No epochs,
 * no supervisor, no XState: what is left is the cost of moving messages through Weir's buffers.
 *
 *   gen (1 partition) ──forward──▶ [cat buffer, N] ──cat loops──▶ [out buffer, N] ──sink loops
 *
 * `--shape sink` (default) skips the cat hop: gen ──▶ [out buffer, N] ──sink loops.
 * Same limits as weir.ts: readBatchSize 500 (`--batch`), readTimeout 10ms, bufferMaxLength 30,000 at 0.8.
 */
import type { Message, SinkContext } from "@weir/actors";
import { ALL_OK, allOkFormOf, catStage, createForwarder, createGeneratorSource, createPartitionChooser, emptyCounts, MemoryBuffer, silentLogger } from "@weir/runtime";
import type { AllOkSinkFunction, ForwarderOptions, PartitionedBuffer, SourceConnector } from "@weir/runtime";
import { parseScenarioArgs, report, startMeter } from "./measure.js";

const args = parseScenarioArgs(process.argv.slice(2));
const argv = process.argv.slice(2);
const option = (name: string, fallback: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1]! : fallback);
const shape = option("shape", "sink");
const batch = Number(option("batch", "500"));
const readTimeoutMs = 10;
const never = new AbortController().signal;

const meter = startMeter();
let delivered = 0;
// Answers "all ok" as weir.ts's sink does (no result object per message: @weir/runtime's ALL_OK).
const sink: AllOkSinkFunction = async (messages) => {
  const now = Date.now();
  for (let i = 0; i < messages.length; i += 1) meter.latency(now - messages[i]!.eventTime);
  delivered += messages.length;
  return ALL_OK;
};

const bufferFor = (vertex: string, upstream: string) =>
  new MemoryBuffer({ name: `floor.${vertex}`, partitions: args.partitions, maxLength: 30_000, usageLimit: 0.8, upstreams: [upstream] });

/** Nothing may fail, drop or dedup in the floor: a recorded failure ends the run, loudly. */
const failures: ForwarderOptions["failures"] = {
  record: (vertex, kind, count, reason) => {
    throw new Error(`floor: ${count} message(s) of ${vertex} ${kind}: ${reason}`);
  },
  lastFailure: () => undefined,
  flush: () => undefined,
  close: () => undefined,
};

/**
 * The forwarder a source or map vertex runs (as createPipeline builds it), writing to `to`: its
 * all-ok form, which sinkConnectorFromFunction drives the sink session through.
 */
const forwarderTo = (vertex: string, to: PartitionedBuffer, map: boolean): AllOkSinkFunction =>
  allOkFormOf(createForwarder({
    vertex,
    ...(map ? { stage: catStage, passThrough: true } : {}),
    targets: [{ vertex: to.name, buffer: to, onFull: "retryUntilSuccess", choosePartition: createPartitionChooser(to.partitions) }],
    counts: emptyCounts(),
    udfTimeoutMs: Number.POSITIVE_INFINITY,
    logger: silentLogger,
    failures,
    // cat passes messages on and never answers retryLater (flow/delayed-sink.ts).
  }))!;

/** One partition's loop: read a batch, hand it on, ack it; until the input ends. */
async function drive(vertex: string, partition: number, read: () => Promise<{ entries: ReadonlyArray<{ offset: string; message: Message }>; endOfStream: boolean }>, ack: (offsets: string[]) => Promise<unknown>, step: AllOkSinkFunction): Promise<void> {
  for (let epoch = 0; ; epoch += 1) {
    const { entries, endOfStream } = await read();
    if (entries.length > 0) {
      const answer = await step(entries.map((entry) => entry.message), { vertex, partition, epoch, attempt: 1, signal: never } satisfies SinkContext);
      if (answer !== ALL_OK && answer.some((result) => result.status !== "ok")) throw new Error(`${vertex}[${partition}]: a message failed in the floor scenario`);
      await ack(entries.map((entry) => entry.offset));
    }
    if (endOfStream) return;
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const readLoop = (vertex: string, buffer: PartitionedBuffer, partition: number, step: AllOkSinkFunction) =>
  drive(vertex, partition, () => buffer.read(partition, { consumer: "floor", max: batch, timeoutMs: readTimeoutMs }), (offsets) => buffer.ack(partition, offsets), step);

const rpu = args.rate > 0 ? args.rate : 100_000_000;
const source: SourceConnector = createGeneratorSource("in", 1, { rpu, duration: 1000, msgSize: args.msgSize, keyCount: 0, total: args.messages });
const out = bufferFor("out", shape === "cat" ? "cat" : "in");
const cat = shape === "cat" ? bufferFor("cat", "in") : undefined;
const first = cat ?? out;

const sourceLoop = drive("in", 0, () => source.read(0, { max: batch, timeoutMs: readTimeoutMs, signal: never }), (offsets) => source.ack(0, offsets), forwarderTo("in", first, false)).then(() =>
  first.endOfStream("in"),
);
const catLoops =
  cat === undefined ? [] : [Promise.all(range(args.partitions).map((p) => readLoop("cat", cat, p, forwarderTo("cat", out, true)))).then(() => out.endOfStream("cat"))];
const sinkLoops = range(args.partitions).map((p) => readLoop("out", out, p, sink));
await Promise.all([sourceLoop, ...catLoops, ...sinkLoops]);
report(meter.finish(`floor (plain loops, no actors), memory, ${shape === "cat" ? "gen → cat → sink" : "gen → sink"}, ${args.partitions} partition${args.partitions > 1 ? "s" : ""}`, delivered));
