/**
 * A supervisor wired to in-memory I/O, for tests that run a whole vertex: the test supplies the
 * reader's reads and acks (`readBatch`, `ackOffsets`) and, if it cares, the sink's write function; everything
 * else is the real machines. Exists because each supervisor-level test built this same `provide`
 * tree and the same supervisor input by hand.
 */
import {
  defaultRetryPolicy,
  fromPartitionIo,
  fromSinkFunction,
  partitionReaderMachine,
  sinkSessionMachine,
  supervisorMachine,
  type AckInput,
  type batcherMachine,
  type Message,
  type ReadBatchInput,
  type ReadBatchOutput,
  type SinkFunction,
  type SinkResult,
  type SupervisorInput,
} from "@weir/actors";

/** An `ok` result for each message, in order: what a healthy sink answers. */
const okResults = (messages: readonly Message[]): SinkResult[] => messages.map((m) => ({ id: m.id, status: "ok" as const }));

/** A sink that accepts every message. */
const acceptEverySink: SinkFunction = async (messages) => okResults(messages);

/** A sink that accepts every message and records the ids it was given in `delivered`. */
export const recordingSink =
  (delivered: string[]): SinkFunction =>
  async (messages) => {
    delivered.push(...messages.map((m) => m.id));
    return okResults(messages);
  };

export interface SupervisorWiring {
  /** One read of the buffer (the reader's `readerIo` answers `reader.read` with it). */
  readonly readBatch: (input: ReadBatchInput, signal: AbortSignal) => Promise<ReadBatchOutput>;
  /** One commit of offsets to the buffer (`reader.ack`). */
  readonly ackOffsets: (input: AckInput) => Promise<void>;
  /** The sink session's write function; by default every message is accepted. */
  readonly write?: SinkFunction;
  /** A replacement batcher; by default the real one. */
  readonly batcher?: typeof batcherMachine;
}

/** `supervisorMachine` with its readers' and sink sessions' I/O provided by the test. */
export function wiredSupervisor({ readBatch, ackOffsets, write = acceptEverySink, batcher }: SupervisorWiring) {
  return supervisorMachine.provide({
    actors: {
      ...(batcher ? { batcher } : {}),
      partitionReader: partitionReaderMachine.provide({
        actors: {
          readerIo: fromPartitionIo({ read: readBatch, ack: ackOffsets }),
        },
      }),
      sinkSession: sinkSessionMachine.provide({ actors: { sinkWriter: fromSinkFunction(write) } }),
    },
  });
}

/**
 * The input every supervisor test starts from: one partition, 5 ms read timeouts, two epochs in
 * flight, the default retry policy, 1 s result timeout. `readBatchSize` is always the test's own.
 */
export function supervisorInput(overrides: Partial<SupervisorInput> & Pick<SupervisorInput, "readBatchSize">): SupervisorInput {
  return {
    vertex: "v",
    partitions: 1,
    readTimeoutMs: 5,
    maxInflightEpochs: 2,
    retry: defaultRetryPolicy,
    resultTimeoutMs: 1_000,
    ...overrides,
  };
}
