import { WeirError } from "@weir/actors";
import type { SinkConnector } from "../connectors/sink-connector.js";
import type { Logger } from "../observability/logger.js";

/**
 * The sink's `commit(epoch)`, logging its failures: the supervisor retries a failed commit every
 * 100 ms without end (the epoch's input must not be acked), so a sink whose commit keeps failing
 * would otherwise stall the vertex without a word. Logged on the 1st, 2nd, 4th, 8th… failure in a row.
 * A `WeirError` that is not retriable (a second writer on an exactly-once file) fails the run
 * through `fail` instead: retrying it would only stall.
 */
export function withCommitLogging(sink: SinkConnector, logger: Logger, fail: (reason: string) => void): SinkConnector {
  if (sink.commit === undefined) return sink;
  let failures = 0;
  return {
    writer: sink.writer,
    ...(sink.write === undefined ? {} : { write: sink.write }),
    close: () => sink.close(),
    commit: async (epoch) => {
      try {
        await sink.commit!(epoch);
        failures = 0;
      } catch (error) {
        // A sink that says retrying cannot help (a second writer on its file) ends the run now.
        if (error instanceof WeirError && !error.retriable) {
          logger.error("sink commit failed for good; the run stops", { epoch, code: error.code, error: error.message });
          fail(error.message);
          throw error;
        }
        failures += 1;
        if ((failures & (failures - 1)) === 0) {
          logger.error("sink commit failed; retrying", { epoch, failures, error: error instanceof Error ? error.message : String(error) });
        }
        throw error;
      }
    },
  };
}
