/**
 * Wires one vertex's I/O into the actors with `.provide()`: the partition readers read and ack
 * through `read`/`ack`, the sink sessions write through the sink connector's writer and the
 * fallback writer, and the supervisor commits through the sink's optional `commit(epoch)`. A
 * reduce vertex's window keepers get its window I/O (`windows`, reduce-vertex.ts).
 */
import { fromPromise } from "xstate";
import {
  fromPartitionIo,
  fromWindowIo,
  partitionReaderMachine,
  windowKeeperMachine,
  type WindowIo,
  sinkSessionMachine,
  supervisorMachine,
  type AckInput,
  type CommitEpochInput,
  type FallbackWriteInput,
  type ReadBatchInput,
  type ReadBatchOutput,
} from "@weir/actors";
import type { SinkConnector } from "../connectors/sink-connector.js";
import type { FallbackWrite } from "./fallback-writer.js";

export interface VertexIO {
  read(input: ReadBatchInput, signal: AbortSignal): Promise<ReadBatchOutput>;
  ack(input: AckInput): Promise<void>;
  readonly sink: SinkConnector;
  readonly fallback: FallbackWrite;
  /** A reduce vertex's window I/O, for its supervisor's `windowKeeper` children. */
  readonly windows?: WindowIo;
}

export function provideVertexMachine(io: VertexIO) {
  return supervisorMachine.provide({
    actors: {
      partitionReader: partitionReaderMachine.provide({
        actors: {
          // One long-lived I/O actor per reader, not one per read and per ack (issue 12).
          readerIo: fromPartitionIo(io),
        },
      }),
      sinkSession: sinkSessionMachine.provide({
        actors: {
          sinkWriter: io.sink.writer,
          fallbackWriter: fromPromise<void, FallbackWriteInput>(({ input }) => io.fallback(input)),
        },
      }),
      ...(io.windows === undefined ? {} : { windowKeeper: windowKeeperMachine.provide({ actors: { windowIo: fromWindowIo(io.windows) } }) }),
      commitEpoch: fromPromise<void, CommitEpochInput>(async ({ input }) => {
        await io.sink.commit?.(input.epoch);
      }),
    },
  });
}

export type VertexMachine = ReturnType<typeof provideVertexMachine>;
