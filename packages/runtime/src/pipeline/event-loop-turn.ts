/**
 * Resolves on the event loop's next check phase (setImmediate), after pending I/O, timers and
 * signals had their turn.
 *
 * Why: when a source is always ahead of its readers (a generator behind its rate, a full
 * in-memory buffer), every read, write and ack resolves at once, the actors answer with more
 * promises, and the whole pipeline runs on the microtask queue without ever returning to the
 * event loop. Then nothing else happens: SIGINT/SIGTERM are never delivered (a `weir run` that
 * ignores Ctrl-C), timers (readTimeout, metrics linger) never fire, sockets (metrics, inspector)
 * never answer. One turn per batch read costs microseconds and bounds that.
 *
 * Every caller until that check phase comes gets the same turn: one immediate and one promise per
 * turn, not per read (issue 12: every read of every partition asked for its own, and the reads of
 * a write fanned out to several partitions all asked within the same turn). Each caller still
 * resumes on the first check phase after its call, as with an immediate of its own.
 */
let nextTurn: { readonly turn: Promise<void>; readonly scheduledWith: typeof setImmediate } | undefined;

export function eventLoopTurn(): Promise<void> {
  // A turn is shared only with callers of the same `setImmediate`: one scheduled on a test's fake
  // timers that were never run must not hold back the callers after the real ones are back.
  if (nextTurn === undefined || nextTurn.scheduledWith !== setImmediate) {
    const current = {
      scheduledWith: setImmediate,
      turn: new Promise<void>((resolve) =>
        setImmediate(() => {
          // Cleared before resolving: a caller that asks from here on waits for the turn after this one.
          if (nextTurn === current) nextTurn = undefined;
          resolve();
        }),
      ),
    };
    nextTurn = current;
  }
  return nextTurn.turn;
}
