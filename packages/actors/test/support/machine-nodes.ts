import type { AnyStateMachine } from "xstate";

/** What the structural tests read of a state node of a machine's definition. */
export interface DefinitionNode {
  readonly id: string;
  readonly type: string;
  readonly states: Record<string, DefinitionNode>;
  readonly always?: readonly unknown[];
}

/** The root of `machine`'s definition, as the structural tests read it. */
export function rootOf(machine: AnyStateMachine): DefinitionNode {
  return machine.root as unknown as DefinitionNode;
}

/** `node` and every node below it, depth first. */
export function nodesBelow(node: DefinitionNode): DefinitionNode[] {
  const found: DefinitionNode[] = [node];
  for (const child of Object.values(node.states)) found.push(...nodesBelow(child));
  return found;
}
