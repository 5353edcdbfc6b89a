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
 */
export function eventLoopTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
