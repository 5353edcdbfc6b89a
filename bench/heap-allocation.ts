/**
 * What the JS heap allocated over a stretch of a run, and the GC pauses in it, from v8.GCProfiler (one
 * record per collection, nothing per allocation): the heap's growth plus what each collection freed.
 * Used by every scenario (`allocatedBytesPerMsg`, `gcPauseMicrosPerMsg`) and by micro/step-cost.ts.
 */
import { GCProfiler, getHeapStatistics } from "node:v8";

export interface HeapAllocation {
  readonly bytes: number;
  /** Main-thread GC pauses, µs. */
  readonly gcPauseMicros: number;
}

/** Starts counting; the returned function stops and says what was allocated since. */
export function startHeapAllocation(): () => HeapAllocation {
  const profiler = new GCProfiler();
  profiler.start();
  const before = getHeapStatistics().used_heap_size;
  return () => {
    const after = getHeapStatistics().used_heap_size;
    let freed = 0;
    let gcPauseMicros = 0;
    for (const gc of profiler.stop().statistics) {
      freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
      gcPauseMicros += gc.cost;
    }
    return { bytes: after - before + freed, gcPauseMicros };
  };
}
