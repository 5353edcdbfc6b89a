/**
 * Window fields ordered by window end, so closing windows and the earliest open end cost a look
 * at the front instead of a scan of every open window (fixed windows share a few ends).
 */
export class EndIndex {
  private readonly ends: number[] = []; // distinct, ascending
  private readonly fields = new Map<number, Set<string>>();

  add(end: number, field: string): void {
    const bucket = this.fields.get(end);
    if (bucket !== undefined) {
      bucket.add(field);
      return;
    }
    this.fields.set(end, new Set([field]));
    this.ends.splice(this.insertionPoint(end), 0, end);
  }

  remove(end: number, field: string): void {
    const bucket = this.fields.get(end);
    if (bucket === undefined || !bucket.delete(field) || bucket.size > 0) return;
    this.fields.delete(end);
    this.ends.splice(this.insertionPoint(end), 1);
  }

  first(): number | undefined {
    return this.ends[0];
  }

  /** Fields whose end is at most `limit`, by end, then by field. */
  upTo(limit: number): string[] {
    const found: string[] = [];
    for (const end of this.ends) {
      if (end > limit) break;
      found.push(...[...this.fields.get(end)!].sort());
    }
    return found;
  }

  private insertionPoint(end: number): number {
    let low = 0;
    let high = this.ends.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.ends[middle]! < end) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
