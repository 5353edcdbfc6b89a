/**
 * Job ids from message ids. A job's id is its message's id, so adding a message twice (a
 * redriven epoch, a retried fallback write) finds the job already there and adds nothing:
 * BullMQ's add is idempotent by custom job id (`addStandardJob` returns the existing job).
 *
 * BullMQ refuses two kinds of custom ids (Job.validateOptions in bullmq 6): ids containing ':'
 * (it builds keys with it) and ids that read as integers (`${parseInt(id, 10)}` === id, which
 * would collide with its own counter ids). Such ids are escaped, percent-style:
 *
 * | message id | job id |
 * |---|---|
 * | `in-0-17`, `a.b/c` | unchanged |
 * | `orders:eu:42` | `orders%3Aeu%3A42` (`:` → `%3A`) |
 * | `100%` | `100%25` (`%` → `%25`, so escaping is reversible) |
 * | `42`, `-7` | `%342`, `%2D7` (the first character, when the whole would read as an integer) |
 *
 * The mapping is one-to-one, so distinct messages never share a job, and {@link fromJobId}
 * gives the message id back.
 */

const hex = (char: string) => `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`;

/**
 * The BullMQ job id of a message id (see the table above).
 *
 * @example
 * ```ts
 * toJobId("orders:42"); // "orders%3A42"
 * toJobId("42");        // "%342"
 * ```
 */
export function toJobId(messageId: string): string {
  const escaped = messageId.replace(/[%:]/g, hex);
  // The same test BullMQ applies; it also catches "NaN".
  if (escaped.length > 0 && `${parseInt(escaped, 10)}` === escaped) return hex(escaped[0]!) + escaped.slice(1);
  return escaped;
}

/**
 * The message id a job id was made from by {@link toJobId}.
 *
 * @example
 * ```ts
 * fromJobId("orders%3A42"); // "orders:42"
 * ```
 */
export function fromJobId(jobId: string): string {
  return jobId.replace(/%([0-9A-F]{2})/g, (_, code: string) => String.fromCharCode(parseInt(code, 16)));
}
