/**
 * Stable names for the actors of a running system, the same in every run of the same spec:
 * XState's `sessionId`s (`x:17`) count every actor the process ever made, so traces, metrics
 * and the inspector name actors by path instead.
 *
 *   out                              the supervisor of vertex `out` (root actor, id = vertex)
 *   out/reader/1                     a partition child, by its systemId (`actorIds` in @weir/actors)
 *   out/reader/1#readerIo            the I/O actor that child invoked, by its `src`
 *
 * A child without a systemId is named `<parent path>/<id>`.
 */
import type { ActorRefLike, AnyActorRef } from "xstate";

/** The fields of an actor ref this module reads; XState's `Actor` has all of them. */
interface InspectableRef {
  readonly id?: string;
  readonly systemId?: string;
  readonly src?: unknown;
  readonly logic?: unknown;
  readonly _parent?: InspectableRef;
  readonly options?: { readonly systemId?: string };
}

const paths = new WeakMap<object, string>();

/** The actor's stable path (cached per actor). */
export function actorPath(ref: ActorRefLike | AnyActorRef): string {
  const cached = paths.get(ref);
  if (cached !== undefined) return cached;
  const actor = ref as unknown as InspectableRef;
  let path: string;
  // `options.systemId`: during the `@xstate.actor` inspection event the actor is still being
  // constructed and `systemId` is not assigned yet.
  const systemId = actor.systemId ?? actor.options?.systemId;
  if (systemId !== undefined) path = systemId;
  else if (actor._parent === undefined) path = actor.id ?? "root";
  else if (isMachineRef(ref)) path = `${actorPath(actor._parent as ActorRefLike)}/${actor.id ?? "?"}`;
  else path = `${actorPath(actor._parent as ActorRefLike)}#${ioSource(ref)}`;
  paths.set(ref, path);
  return path;
}

/** The path of the actor's parent, or undefined for a root actor. */
export function parentPath(ref: ActorRefLike | AnyActorRef): string | undefined {
  const parent = (ref as unknown as InspectableRef)._parent;
  return parent === undefined ? undefined : actorPath(parent as ActorRefLike);
}

/** Whether the actor runs a state machine (as opposed to promise or callback I/O logic). */
export function isMachineRef(ref: ActorRefLike | AnyActorRef): boolean {
  const logic = (ref as unknown as InspectableRef).logic as { getStateNodeById?: unknown } | undefined;
  return typeof logic?.getStateNodeById === "function";
}

/** Whether the actor is a root (it has no parent). */
export function isRootRef(ref: ActorRefLike | AnyActorRef): boolean {
  return (ref as unknown as InspectableRef)._parent === undefined;
}

/** The `src` an invoked I/O actor was started from (`readerIo`, `sinkWriter` …), else its id. */
export function ioSource(ref: ActorRefLike | AnyActorRef): string {
  const actor = ref as unknown as InspectableRef;
  return typeof actor.src === "string" ? actor.src : (actor.id ?? "?");
}

/** The machine's id (`supervisor`, `sinkSession` …) for machine actors. */
export function machineId(ref: ActorRefLike | AnyActorRef): string | undefined {
  const logic = (ref as unknown as InspectableRef).logic as { id?: unknown } | undefined;
  return isMachineRef(ref) && typeof logic?.id === "string" ? logic.id : undefined;
}
