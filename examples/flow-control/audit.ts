/**
 * The `audit` udf of examples/flow-control/ordered.yaml (docs/flow-control.md#ordered-processing-per-key):
 * it passes every message on unchanged. It runs with `ordered: { enabled: false }` — it never fails,
 * so it has no order to keep, and is called with whole batches.
 *
 *   udf: { module: { path: ./audit.ts } }
 */
import type { Message } from "@weir/actors";
import type { MapResult } from "@weir/runtime";

export default (message: Message): MapResult[] => [{ value: message.value, keys: message.keys }];
