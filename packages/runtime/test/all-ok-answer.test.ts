import { createActor, createMachine, sendTo } from "xstate";
import { defaultRetryPolicy, type Message, type SinkFunction, type SinkIoEvent, type SinkWriteInput } from "@weir/actors";
import { describe, expect, it } from "vitest";
import { MemoryBuffer } from "../src/buffer/index.js";
import { ALL_OK, allOkAttempt, allOkFormOf, withAllOkForm, type AllOkSinkFunction } from "../src/connectors/all-ok-answer.js";
import { createBuiltinSink } from "../src/connectors/builtin-sinks.js";
import { sinkConnectorFromFunction } from "../src/connectors/sink-connector.js";
import { orderSinkFunction } from "../src/flow/ordered-sink.js";
import { createFailureLog } from "../src/observability/failure-log.js";
import { silentLogger } from "../src/observability/logger.js";
import { emptyCounts } from "../src/observability/vertex-counters.js";
import { observeSinkFunction } from "../src/pipeline/failure-observing-sink.js";
import { createForwarder } from "../src/pipeline/forwarder.js";
import { createPartitionChooser } from "../src/pipeline/partition-choice.js";
import { catStage } from "../src/udf/map-function.js";

const message = (id: string): Message => ({ id, keys: [], value: new Uint8Array(), eventTime: 1, headers: {} });
const input = (messages: readonly Message[]): SinkWriteInput => ({ vertex: "v", partition: 2, epoch: 7, attempt: 1, messages });

/** Runs one attempt and resolves with every frame it sent, once it sent its last (what follows a final frame comes in the same turn). */
function frames(attempt: ReturnType<typeof allOkAttempt>, messages: readonly Message[]): Promise<SinkIoEvent[]> {
  return new Promise((resolve) => {
    const sent: SinkIoEvent[] = [];
    attempt(input(messages), (event) => {
      sent.push(event);
      if (event.type !== "sinkIo.results") queueMicrotask(() => resolve(sent));
    });
  });
}

function catForwarder() {
  const buffer = new MemoryBuffer({ name: "p.out", partitions: 2, maxLength: 100, usageLimit: 1, upstreams: [] });
  return createForwarder({
    vertex: "cat",
    stage: catStage,
    passThrough: true,
    targets: [{ vertex: "out", buffer, onFull: "retryUntilSuccess", choosePartition: createPartitionChooser(2) }],
    counts: emptyCounts(),
    udfTimeoutMs: 1_000,
    logger: silentLogger,
    failures: createFailureLog(silentLogger),
  });
}

describe("the all-ok answer (issue 12)", () => {
  it("answers an attempt whose function said ALL_OK with one sinkIo.allOk frame", async () => {
    const write: AllOkSinkFunction = async () => ALL_OK;
    expect(await frames(allOkAttempt(write), [message("a"), message("b")])).toEqual([{ type: "sinkIo.allOk", partition: 2, epoch: 7, attempt: 1 }]);
  });

  it("passes any other answer on as results and end of results, and a throw as failures", async () => {
    const failing: AllOkSinkFunction = async (messages) => [{ id: messages[0]!.id, status: "failure", error: "no" }];
    expect((await frames(allOkAttempt(failing), [message("a")])).map((event) => event.type)).toEqual(["sinkIo.results", "sinkIo.endOfResults"]);
    const throwing: AllOkSinkFunction = async () => {
      throw new Error("down");
    };
    const [results] = await frames(allOkAttempt(throwing), [message("a")]);
    expect(results).toMatchObject({ type: "sinkIo.results", results: [{ id: "a", status: "failure", error: "down" }] });
  });

  it("a cat forwarder answers ALL_OK in its all-ok form, and one ok per message as a plain function", async () => {
    const forward = catForwarder();
    const batch = [message("a"), message("b"), message("c")];
    const context = { vertex: "cat", partition: 0, epoch: 1, attempt: 1, signal: new AbortController().signal };
    expect(await allOkFormOf(forward)!(batch, context)).toBe(ALL_OK);
    expect(await forward(batch, context)).toEqual(batch.map((m) => ({ id: m.id, status: "ok" })));
  });

  it("is lost by a wrapper that reads results, so it always sees real ones", () => {
    const forward = catForwarder();
    expect(allOkFormOf(forward)).toBeDefined();
    expect(allOkFormOf(orderSinkFunction(forward as SinkFunction, { retry: defaultRetryPolicy }))).toBeUndefined();
    expect(allOkFormOf(async () => [])).toBeUndefined();
  });

  it("is kept by the failure log's wrapper, which records a throw and failure answers of that form too", async () => {
    const recorded: string[] = [];
    const failures = { ...createFailureLog(silentLogger), record: (_vertex: string, kind: string, count: number) => void recorded.push(`${kind}×${count}`) };
    let answer: Awaited<ReturnType<AllOkSinkFunction>> | "throw" = ALL_OK;
    const lean: AllOkSinkFunction = async () => {
      if (answer === "throw") throw new Error("down");
      return answer;
    };
    const observed = observeSinkFunction("out", withAllOkForm(async () => [], lean), failures);
    const observedLean = allOkFormOf(observed)!;
    const context = { vertex: "out", partition: 0, epoch: 1, attempt: 2, signal: new AbortController().signal };
    expect(await observedLean([message("a")], context)).toBe(ALL_OK);
    answer = [{ id: "a", status: "failure", error: "no" }];
    await observedLean([message("a")], context);
    answer = "throw";
    await expect(observedLean([message("a"), message("b")], context)).rejects.toThrow("down");
    expect(recorded).toEqual(["sinkFailed×1", "sinkFailed×2"]);
  });

  it("is the blackhole sink's answer", async () => {
    const blackhole = await createBuiltinSink("out", { blackhole: {} });
    const context = { vertex: "out", partition: 0, epoch: 1, attempt: 1, signal: new AbortController().signal };
    expect(await allOkFormOf(blackhole.write)!([message("a")], context)).toBe(ALL_OK);
    expect(await blackhole.write!([message("a")], context)).toEqual([{ id: "a", status: "ok" }]);
  });

  it("drives the session's writer of a forwarder through the all-ok form: one allOk frame per attempt", async () => {
    const connector = sinkConnectorFromFunction(catForwarder() as SinkFunction);
    const received: SinkIoEvent[] = [];
    const done = new Promise<void>((resolve) => {
      const parent = createMachine({
        invoke: { id: "writer", src: connector.writer, input: { vertex: "cat", partition: 2 } },
        on: {
          "sinkIo.*": { actions: ({ event }) => (received.push(event as SinkIoEvent), resolve()) },
          write: { actions: sendTo("writer", { type: "sinkWriter.write", input: input([message("a"), message("b")]) }) },
        },
      });
      const actor = createActor(parent).start();
      actor.send({ type: "write" });
    });
    await done;
    expect(received).toEqual([{ type: "sinkIo.allOk", partition: 2, epoch: 7, attempt: 1 }]);
  });
});
