/**
 * An ordered record of what reached the sink and what was acked, shared by the test doubles,
 * so assertions can check order ("nothing acked before its result") and not only totals.
 */
export type DeliveryEvent =
  | { readonly kind: "result"; readonly id: string; readonly partition: number; readonly epoch: number; readonly status: "ok" | "failure" | "fallback" }
  | { readonly kind: "fallbackWritten"; readonly id: string; readonly partition: number; readonly epoch: number }
  | { readonly kind: "ack"; readonly id: string; readonly partition: number; readonly epoch: number };

export class DeliveryLog {
  readonly events: DeliveryEvent[] = [];

  record(event: DeliveryEvent): void {
    this.events.push(event);
  }

  /** Ids whose sink result was `ok`, each counted once per delivery. */
  okCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const event of this.events) {
      if (event.kind === "result" && event.status === "ok") counts.set(event.id, (counts.get(event.id) ?? 0) + 1);
    }
    return counts;
  }

  ackedIds(): string[] {
    return this.events.flatMap((event) => (event.kind === "ack" ? [event.id] : []));
  }

  fallbackIds(): string[] {
    return this.events.flatMap((event) => (event.kind === "fallbackWritten" ? [event.id] : []));
  }
}
