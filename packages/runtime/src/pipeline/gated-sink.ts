/**
 * Puts a {@link MessageGate} in front of a vertex's sink (or a map vertex's forwarder): the
 * refused messages are answered `fallback` with their reason and never reach the sink; the rest
 * go on as one attempt, with the same partition, epoch and attempt number.
 *
 *   function sinks:  gated(messages) ──accepted──▶ write ──▶ results + refused fallbacks
 *   stream writers:  gated attempt ──accepted──▶ inner writer's attempt (a function call, no actor)
 *                    inner frames ──▶ session, the refused fallbacks added before the inner
 *                    writer's end of results (or its allOk, which then becomes results + end)
 *
 * A function sink is wrapped as a function (no actor per attempt); a writer with no function
 * behind it — a process sink, or a custom `SinkConnector` — is wrapped as a writer.
 */
import { fromSinkAttempts, type Message, type SinkAttempt, type SinkFunction, type SinkIoEvent, type SinkResult, type SinkWriteInput, type SinkWriterLogic } from "@weir/actors";
import { sinkConnectorFromFunction, type SinkConnector } from "../connectors/sink-connector.js";
import { sortMessages, type MessageGate } from "./message-gate.js";

/**
 * `write` behind the gate: refused messages are answered `fallback`, the rest are written.
 *
 * @example
 * ```ts
 * const gate = createMessageGate({ maxMessageSize: 1024 })!;
 * const connector = sinkConnectorFromFunction(gateSinkFunction(write, gate));
 * ```
 */
export function gateSinkFunction(write: SinkFunction, gate: MessageGate): SinkFunction {
  return async (messages, context) => {
    const { accepted, refused } = await sortMessages(gate, messages);
    if (refused.length === 0) return write(messages, context);
    if (accepted.length === 0) return refused;
    let results: readonly SinkResult[];
    try {
      results = await write(accepted, context);
    } catch (error) {
      // As fromSinkFunction does for a throw, but the refused answers stand.
      const text = error instanceof Error ? error.message : String(error);
      results = accepted.map((message): SinkResult => ({ id: message.id, status: "failure", error: text }));
    }
    return [...results, ...refused];
  };
}

/**
 * Runs one attempt of `inner` with `send` as its way back: a throw is the attempt's crash, as
 * `fromSinkAttempts` answers a throwing attempt. Returns the attempt's own cleanup.
 */
export function runInnerAttempt(
  inner: SinkAttempt,
  input: SinkWriteInput,
  send: (event: SinkIoEvent) => void,
): (() => void) | void {
  try {
    return inner(input, send);
  } catch (error) {
    const reason = `the sink writer failed: ${error instanceof Error ? error.message : String(error)}`;
    send({ type: "sinkIo.crashed", partition: input.partition, epoch: input.epoch, attempt: input.attempt, reason });
    return undefined;
  }
}

/**
 * `writer` behind the gate, for writers without a function behind them (process sinks). The
 * inner writer's attempt runs inside this one's: no actor per attempt.
 *
 * @example
 * ```ts
 * const sink = createProcessSink("out", { command: ["python3", "sink.py"], partitions: 2 }, logger);
 * const session = sinkSessionMachine.provide({ actors: { sinkWriter: gateSinkWriter(sink.writer, gate) } });
 * ```
 */
export function gateSinkWriter(writer: SinkWriterLogic, gate: MessageGate): SinkWriterLogic {
  return fromSinkAttempts((input, send) => {
    const frame = { partition: input.partition, epoch: input.epoch, attempt: input.attempt };
    let stopped = false;
    let disposeInner: (() => void) | void;
    void sortMessages(gate, input.messages).then(
      ({ accepted, refused }) => {
        if (stopped) return;
        if (accepted.length === 0) {
          send({ type: "sinkIo.sent", ...frame });
          send({ type: "sinkIo.results", ...frame, results: refused });
          send({ type: "sinkIo.endOfResults", ...frame });
          return;
        }
        const forward = refused.length === 0 ? send : completeWithRefused(frame, accepted, refused, send);
        disposeInner = runInnerAttempt(writer.attempt, refused.length === 0 ? input : { ...input, messages: accepted }, forward);
      },
      (error: unknown) => send({ type: "sinkIo.crashed", ...frame, reason: `checking the messages failed: ${String(error)}` }),
    );
    return () => {
      stopped = true;
      disposeInner?.();
    };
  });
}

/**
 * Forwards the inner writer's frames, adding the refused answers to its own attempt's results:
 * just before its end of results (or its crash), or — when it answers `allOk` for the accepted messages — as
 * results + refused + end of results. Frames of another partition, epoch or attempt pass as they
 * are: the session judges them.
 */
export function completeWithRefused(
  frame: { readonly partition: number; readonly epoch: number; readonly attempt: number },
  accepted: readonly Message[],
  refused: readonly SinkResult[],
  send: (event: SinkIoEvent) => void,
): (event: SinkIoEvent) => void {
  let refusedSent = false;
  const sendRefused = () => {
    if (refusedSent) return;
    refusedSent = true;
    send({ type: "sinkIo.results", ...frame, results: refused });
  };
  return (event) => {
    const ours = event.partition === frame.partition && event.epoch === frame.epoch && event.attempt === frame.attempt;
    if (ours && event.type === "sinkIo.allOk") {
      send({ type: "sinkIo.results", ...frame, results: accepted.map((message): SinkResult => ({ id: message.id, status: "ok" })) });
      sendRefused();
      send({ type: "sinkIo.endOfResults", ...frame });
      return;
    }
    // Before a crash too: the session keeps the results an attempt had before it crashed.
    if (ours && (event.type === "sinkIo.endOfResults" || event.type === "sinkIo.crashed")) sendRefused();
    send(event);
  };
}

/**
 * A vertex's sink connector behind the gate. `functionBacked`: the connector's `writer` runs its
 * `write` (everything `sinkConnectorFromFunction` builds), so the function is wrapped; otherwise
 * the writer is. `commit` and `close` are the connector's own.
 *
 * @example
 * ```ts
 * const gated = gateSinkConnector(await createBuiltinSink("out", vertex.sink), gate, !("process" in vertex.sink));
 * ```
 */
export function gateSinkConnector(connector: SinkConnector, gate: MessageGate, functionBacked: boolean): SinkConnector {
  const commit = connector.commit === undefined ? {} : { commit: (epoch: number) => connector.commit!(epoch) };
  const close = () => connector.close();
  if (functionBacked && connector.write !== undefined) {
    return sinkConnectorFromFunction(gateSinkFunction(connector.write, gate), { ...commit, close });
  }
  return {
    writer: gateSinkWriter(connector.writer, gate),
    ...(connector.write === undefined ? {} : { write: connector.write }),
    ...commit,
    close,
  };
}
