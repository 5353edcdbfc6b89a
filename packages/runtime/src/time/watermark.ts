/**
 * Watermarks (issue #13, DESIGN §8): event time in ms below which a vertex expects no more
 * on-time messages.
 */

/** The watermark of a writer that will write no more (a bounded source ended): every window closes. */
export const END_OF_TIME = Number.MAX_SAFE_INTEGER;
