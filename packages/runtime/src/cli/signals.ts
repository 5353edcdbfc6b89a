/**
 * SIGINT/SIGTERM for `weir run`, installed before anything slow is loaded.
 *
 * `bin/weir.js` → `main.ts` calls {@link holdSignals} first thing, so a signal that arrives while
 * the spec, the user's modules or Redis clients load is kept instead of killing the process
 * with no output (exit 143). The run command then {@link claimSignals}: it gets every signal held
 * so far at once, and every later one as it arrives. This module imports nothing on purpose.
 */
export type SignalHandler = (signal: NodeJS.Signals) => void;

const SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM"];
const held: NodeJS.Signals[] = [];
let handler: SignalHandler | undefined;
let installed = false;

const relay = (signal: NodeJS.Signals): void => {
  if (handler === undefined) held.push(signal);
  else handler(signal);
};

/** Starts keeping SIGINT/SIGTERM for a later {@link claimSignals}. Idempotent. */
export function holdSignals(): void {
  if (installed) return;
  installed = true;
  for (const signal of SIGNALS) process.on(signal, relay);
}

/**
 * Routes SIGINT/SIGTERM to `onSignal` (signals held before are delivered first, in order) until
 * the returned release function is called; then the process's default handling comes back.
 */
export function claimSignals(onSignal: SignalHandler): () => void {
  holdSignals();
  handler = onSignal;
  for (const signal of held.splice(0)) onSignal(signal);
  return () => {
    if (handler !== onSignal) return;
    handler = undefined;
    installed = false;
    held.length = 0;
    for (const signal of SIGNALS) process.off(signal, relay);
  };
}
