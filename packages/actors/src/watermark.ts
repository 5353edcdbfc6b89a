/**
 * Watermark arithmetic of the actors (issue #13): a watermark is a number of milliseconds, or
 * undefined while a partition has none (pipelines without event time never have one).
 */

/** Whether `candidate` is a watermark later than `current` (any watermark is later than none). */
export function isNewerWatermark(candidate: number | undefined, current: number | undefined): candidate is number {
  return candidate !== undefined && (current === undefined || candidate > current);
}

/** The later of two watermarks: watermarks only move forward. */
export function laterWatermark(current: number | undefined, candidate: number | undefined): number | undefined {
  return isNewerWatermark(candidate, current) ? candidate : current;
}
