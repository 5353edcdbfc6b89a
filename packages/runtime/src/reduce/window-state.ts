/** What one commit changes in a partition's window state: fields set (field → JSON) and fields removed. */
export interface WindowStateChange {
  readonly set: ReadonlyMap<string, string>;
  readonly remove: readonly string[];
}
