/**
 * The newest events each actor received, for the dashboard's statechart view. An inspection
 * observer, as cheap as one can be: per event one cached path lookup and one slot written in a
 * fixed ring (no allocation but the small record), so the hot path does not notice it (the
 * actors send a handful of events per partition-epoch, DESIGN §7).
 */
import type { InspectionEvent } from "xstate";
import { actorPath } from "../observability/actor-path.js";
import type { ActorEvent } from "./dashboard-types.js";

const RING = 12;

interface Ring {
  readonly slots: Array<ActorEvent | undefined>;
  next: number;
}

export interface EventRing {
  readonly inspect: (event: InspectionEvent) => void;
  /** The actor's newest events, oldest first. */
  events(path: string): ActorEvent[];
}

export function createEventRing(now: () => number = Date.now): EventRing {
  const rings = new Map<string, Ring>();
  return {
    inspect(event) {
      if (event.type !== "@xstate.event") return;
      const type = event.event.type;
      // XState's own init and the I/O actors' done events say nothing the state does not.
      if (type.startsWith("xstate.init")) return;
      const path = actorPath(event.actorRef);
      let ring = rings.get(path);
      if (ring === undefined) {
        ring = { slots: new Array<ActorEvent | undefined>(RING), next: 0 };
        rings.set(path, ring);
      }
      ring.slots[ring.next] = { type, at: now() };
      ring.next = (ring.next + 1) % RING;
    },
    events(path) {
      const ring = rings.get(path);
      if (ring === undefined) return [];
      const out: ActorEvent[] = [];
      for (let i = 0; i < RING; i++) {
        const slot = ring.slots[(ring.next + i) % RING];
        if (slot !== undefined) out.push(slot);
      }
      return out;
    },
  };
}
