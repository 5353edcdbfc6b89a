/**
 * Watermarks (issue #13, DESIGN §8): event time in ms below which a vertex expects no more
 * on-time messages.
 */

/** The watermark of a writer that will write no more (a bounded source ended): every window closes. */
export const END_OF_TIME = Number.MAX_SAFE_INTEGER;

/**
 * The mark of a worker that has not yet committed a watermark of its writer (a second worker of
 * a vertex, or one restarted under a new consumer name): it holds its writer's watermark where it
 * is downstream until the worker's first mark replaces it (pipeline/vertex-watermarks.ts). A
 * reader never reports it (buffer/watermark-view.ts): a held writer keeps what was reported before.
 */
export const HOLD_MARK = Number.MIN_SAFE_INTEGER;
