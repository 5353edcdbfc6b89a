/**
 * Weir itself: generator → blackhole-like sink (`--shape sink`) or generator → cat → sink
 * (`--shape cat`, two edges) or generator → count → sink (`--shape reduce`: a reduce vertex counting
 * per key and fixed 1 s window, issue #13), on the memory buffer or on Redis streams. The sink measures
 * end-to-end latency from each message's event time. Limits default to readBatchSize 500,
 * readTimeout 10ms, maxInflightEpochs 4; `--batch`, `--read-timeout` and `--inflight` change them.
 * `--keys n` gives the messages n distinct keys (none by default); `--ordered` turns on
 * `spec.ordered` (issue #15: per-key order, the sink called in per-key waves); `--sink-delay ms`
 * makes every sink call take that long (a sink that writes somewhere). `--count-events` and
 * `--time-steps` print, on stderr, the events per partition-epoch and each machine's steps timed in the
 * running pipeline.
 */
import type { Message, SinkFunction } from "@weir/actors";
import { ALL_OK, createPipeline, okResults, parseSpec, sinkConnectorFromFunction, withAllOkForm, type AllOkSinkFunction } from "@weir/runtime";
import { batcherMachine, partitionReaderMachine, sinkSessionMachine, supervisorMachine } from "@weir/actors";
import { createStepTimes, formatAllStepTimes, timeAllSteps } from "../micro/step-timer.js";
import { createEventCounter } from "./count-events.js";
import { parseScenarioArgs, report, startMeter } from "./measure.js";

const args = parseScenarioArgs(process.argv.slice(2));
const argv = process.argv.slice(2);
const option = (name: string, fallback: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1]! : fallback);
const buffer = option("buffer", "memory");
const shape = option("shape", "sink");
// Issue 12: one stream entry per partition-write on Redis (`buffer.framed`, default true; `--framed false` for one per message).
const framed = option("framed", "true") === "true";
const keyCount = Number(option("keys", "0"));
const ordered = argv.includes("--ordered");
const sinkDelayMs = Number(option("sink-delay", "0"));

const meter = startMeter();
// `--fill`: the sink's calls by size (one per partition-epoch of the sink vertex), on stderr: how full
// its epochs are, without the inspector `--count-events` needs (which changes the run's timing).
const fill = argv.includes("--fill") ? new Map<number, number>() : undefined;
let delivered = 0;
// Answers "all ok" for each batch (@weir/runtime's ALL_OK): the session gets one sinkIo.allOk frame
// and nobody builds or checks an object per message. `--ordered` calls the plain form per key wave.
const allOkSink: AllOkSinkFunction = async (messages: readonly Message[]) => {
  if (sinkDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, sinkDelayMs));
  fill?.set(messages.length, (fill.get(messages.length) ?? 0) + 1);
  const now = Date.now();
  for (let i = 0; i < messages.length; i += 1) meter.latency(now - messages[i]!.eventTime);
  delivered += messages.length;
  return ALL_OK;
};
const plainSink: SinkFunction = async (messages, context) => (await allOkSink(messages, context), okResults(messages));
const sink = sinkConnectorFromFunction(withAllOkForm(plainSink, allOkSink));

// `--commit partition`: the sink vertex (and a middle vertex) commit each partition on its own.
const commit = argv.includes("--commit") ? { commit: option("commit", "aligned") as "aligned" | "partition" } : {};
const rpu = args.rate > 0 ? args.rate : 100_000_000;
const vertices = [
  { name: "in", source: { generator: { total: args.messages, rpu, duration: "1s", msgSize: args.msgSize, keyCount } } },
  ...(shape === "cat" ? [{ name: "cat", partitions: args.partitions, ...commit, udf: { builtin: { name: "cat" as const } } }] : []),
  ...(shape === "reduce"
    ? [{ name: "count", partitions: args.partitions, udf: { builtin: { name: "count" as const }, groupBy: { window: { fixed: { length: "1s" } } } } }]
    : []),
  { name: "out", partitions: args.partitions, ...commit, sink: { blackhole: {} } },
];
const middle = shape === "cat" ? "cat" : shape === "reduce" ? "count" : undefined;
const edges = middle === undefined ? [{ from: "in", to: "out" }] : [{ from: "in", to: middle }, { from: middle, to: "out" }];
const spec = parseSpec(
  {
    apiVersion: "weir.dev/v1",
    kind: "Pipeline",
    metadata: { name: `bench-${process.pid}` },
    spec: {
      buffer: buffer === "redis" ? { type: "redis", url: args.redisUrl, keyPrefix: args.prefix, framed } : { type: "memory" },
      limits: { readBatchSize: Number(option("batch", "500")), readTimeout: option("read-timeout", "10ms"), maxInflightEpochs: Number(option("inflight", "4")) },
      vertices,
      edges,
      ...(ordered ? { ordered: { enabled: true } } : {}),
    },
  },
  process.cwd(),
);
// `--count-events`: XState events, microsteps and actors per partition-epoch, on stderr (slows the run).
const counter = argv.includes("--count-events") ? createEventCounter() : undefined;
// `--time-steps`: each machine's steps timed where they run, per machine and event, on stderr (micro/step-timer.ts;
// hrtime around every step costs a little: compare runs with each other, not with untimed ones).
const stepTimes = argv.includes("--time-steps") ? createStepTimes() : undefined;
if (stepTimes !== undefined) timeAllSteps([supervisorMachine, batcherMachine, partitionReaderMachine, sinkSessionMachine], stepTimes);
const summary = await createPipeline(spec, { sinks: { out: sink }, ...(counter === undefined ? {} : { inspect: counter.inspect }) }).start();
if (summary.status !== "completed") throw new Error(`the run failed: ${summary.reason}`);
const keyed = keyCount > 0 ? `, ${keyCount} keys${ordered ? ", ordered" : ""}` : ordered ? ", ordered" : "";
const delayed = sinkDelayMs > 0 ? `, sink ${sinkDelayMs} ms per call` : "";
const shapes: Record<string, string> = { sink: "gen → sink", cat: "gen → cat → sink", reduce: "gen → count (fixed 1 s) → sink" };
const label = `weir ${buffer}${buffer === "redis" && !framed ? " unframed" : ""}, ${shapes[shape] ?? shape}, ${args.partitions} partition${args.partitions > 1 ? "s" : ""}${keyed}${delayed}`;
// A reduce vertex delivers one result per (key, window): its cost is per message it read.
report(meter.finish(label, shape === "reduce" ? args.messages : delivered));
counter?.print();
if (fill !== undefined) {
  const calls = [...fill.values()].reduce((sum, n) => sum + n, 0);
  const top = [...fill].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([size, n]) => `${size}×${n}`);
  process.stderr.write(`sink calls: ${calls}, ${(delivered / calls).toFixed(0)} messages each on average; most common sizes: ${top.join(" ")}\n`);
}
if (stepTimes !== undefined) {
  // One supervisor `sink.epochDone` step per partition-epoch.
  const partitionEpochs = stepTimes.byMachine.get("supervisor sink.epochDone")?.steps ?? 1;
  process.stderr.write(`${partitionEpochs} partition-epochs; steps where they run:\n${formatAllStepTimes(stepTimes, partitionEpochs)}`);
}
