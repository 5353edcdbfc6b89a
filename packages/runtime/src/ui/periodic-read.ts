/**
 * One value read now and every `intervalMs` after (the dashboard's pollers of Redis and the
 * dead-letter queues): a read never overlaps the previous one, a failure keeps the last value and
 * says why, and nothing reads once stopped.
 */
export interface PeriodicRead<T> {
  /** The last value read (the initial one before the first read ends). */
  current(): T;
  /** Why the last read failed, or null. */
  error(): string | null;
  /** Resolves once the read in progress (or the next one) has ended. */
  refreshed(): Promise<void>;
  stop(): void;
}

export function readPeriodically<T>(read: () => Promise<T>, initial: T, intervalMs: number): PeriodicRead<T> {
  let latest = initial;
  let lastError: string | null = null;
  let waiters: Array<() => void> = [];
  let polling = false;
  let stopped = false;
  const poll = async () => {
    if (polling || stopped) return;
    polling = true;
    try {
      latest = await read();
      lastError = null;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    } finally {
      polling = false;
      const done = waiters;
      waiters = [];
      for (const resolve of done) resolve();
    }
  };
  void poll();
  const timer = setInterval(() => void poll(), intervalMs);
  timer.unref();
  return {
    current: () => latest,
    error: () => lastError,
    refreshed: () => new Promise<void>((resolve) => waiters.push(resolve)),
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
