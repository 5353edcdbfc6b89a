/**
 * What a window keeper asks the state store to persist after an epoch (issue #13): the windows
 * the epoch changed, each as field → JSON, and the fields it removed (sessions that merged).
 * Types only, so the store (window-store.ts) needs nothing else of the keeper.
 */
export interface WindowStateChange {
  /** field (`<start>:<end>:<JSON keys>`) → the window's state as a JSON string. */
  readonly set: ReadonlyMap<string, string>;
  readonly remove: readonly string[];
}
