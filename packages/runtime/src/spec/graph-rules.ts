import { isRecord, type IssueDraft } from "./issue-draft.js";
import { didYouMean } from "./suggest.js";
import { vertexRole, type VertexRole } from "./vertex-rules.js";

interface VertexInfo {
  readonly index: number;
  readonly name: string;
  readonly role: VertexRole | undefined;
}

interface Edge {
  readonly index: number;
  readonly from: string;
  readonly to: string;
}

/**
 * Rules across vertices and edges (paths relative to `spec`): unique names; edges between
 * known vertices, never out of a sink, into a source, onto the same vertex or around a cycle;
 * at least one source and one sink; every vertex connected on the sides its role needs.
 *
 * Rules that would only echo an earlier mistake are skipped: role counts need every vertex's
 * role to be clear, and "has no input edge" needs every edge to name known vertices.
 */
export function graphIssues(spec: unknown): IssueDraft[] {
  if (!isRecord(spec) || !Array.isArray(spec["vertices"])) return [];
  const issues: IssueDraft[] = [];
  const { vertices, rolesKnown } = collectVertices(spec["vertices"], issues);
  const { edges, endpointsKnown } = collectEdges(spec["edges"], vertices, issues);

  for (const { edge, cycle } of findCycles([...vertices.keys()], edges)) {
    issues.push({
      path: ["edges", edge.index],
      message: `edges form a cycle: ${cycle.join(" → ")}`,
      hint: "a pipeline must be acyclic; remove one of these edges",
    });
  }
  if (rolesKnown) issues.push(...roleIssues([...vertices.values()], endpointsKnown ? edges : undefined));
  return issues;
}

function collectVertices(list: readonly unknown[], issues: IssueDraft[]) {
  const vertices = new Map<string, VertexInfo>();
  let rolesKnown = true;
  list.forEach((vertex, index) => {
    const role = vertexRole(vertex);
    if (role === undefined) rolesKnown = false;
    const name = isRecord(vertex) && typeof vertex["name"] === "string" ? vertex["name"] : undefined;
    if (name === undefined) return;
    const first = vertices.get(name);
    if (first === undefined) vertices.set(name, { index, name, role });
    else {
      issues.push({
        path: ["vertices", index, "name"],
        message: `duplicate vertex name '${name}' (also spec.vertices[${first.index}])`,
        hint: "vertex names must be unique; rename one of them",
      });
    }
  });
  return { vertices, rolesKnown };
}

/** Edges that are valid on their own (known ends, allowed roles, not repeated). */
function collectEdges(list: unknown, vertices: ReadonlyMap<string, VertexInfo>, issues: IssueDraft[]) {
  const edges: Edge[] = [];
  let endpointsKnown = true;
  const seen = new Map<string, number>();
  const names = [...vertices.keys()];
  (Array.isArray(list) ? list : []).forEach((edge: unknown, index) => {
    const from = isRecord(edge) && typeof edge["from"] === "string" ? edge["from"] : undefined;
    const to = isRecord(edge) && typeof edge["to"] === "string" ? edge["to"] : undefined;
    if (from === undefined || to === undefined) {
      endpointsKnown = false;
      return;
    }
    let valid = true;
    for (const [end, name] of [["from", from], ["to", to]] as const) {
      if (vertices.has(name)) continue;
      valid = false;
      endpointsKnown = false;
      issues.push({ path: ["edges", index, end], message: `unknown vertex '${name}'`, hint: unknownVertexHint(name, names) });
    }
    if (from === to && valid) {
      issues.push({
        path: ["edges", index],
        message: `edge from '${from}' to itself`,
        hint: "a pipeline must be acyclic; remove this edge",
      });
      return;
    }
    if (vertices.get(from)?.role === "sink") {
      valid = false;
      issues.push({
        path: ["edges", index, "from"],
        message: `'${from}' is a sink`,
        hint: "sinks have no outputs; remove the edge or point it from a udf vertex",
      });
    }
    if (vertices.get(to)?.role === "source") {
      valid = false;
      issues.push({
        path: ["edges", index, "to"],
        message: `'${to}' is a source`,
        hint: "sources have no inputs; remove the edge or point it to a udf or sink vertex",
      });
    }
    const key = JSON.stringify([from, to]);
    const first = seen.get(key);
    if (first !== undefined) {
      issues.push({
        path: ["edges", index],
        message: `duplicate edge ${from} → ${to} (also spec.edges[${first}])`,
        hint: "remove one; to match several tags use one edge with several conditions.tags.values",
      });
      return;
    }
    seen.set(key, index);
    if (valid) edges.push({ index, from, to });
  });
  return { edges, endpointsKnown };
}

function unknownVertexHint(name: string, names: readonly string[]): string {
  if (names.length === 0) return "define the vertex under spec.vertices";
  const suggestion = didYouMean(name, names);
  const known = `vertices are: ${names.join(", ")}`;
  return suggestion === undefined ? known : `${suggestion} (${known})`;
}

/** Each edge that closes a cycle, with the cycle it closes (depth-first search). */
function findCycles(names: readonly string[], edges: readonly Edge[]) {
  const outgoing = new Map<string, Edge[]>();
  for (const edge of edges) outgoing.set(edge.from, [...(outgoing.get(edge.from) ?? []), edge]);
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const found: { edge: Edge; cycle: string[] }[] = [];
  const visit = (node: string): void => {
    state.set(node, "visiting");
    stack.push(node);
    for (const edge of outgoing.get(node) ?? []) {
      const seen = state.get(edge.to);
      if (seen === "visiting") found.push({ edge, cycle: [...stack.slice(stack.indexOf(edge.to)), edge.to] });
      else if (seen === undefined) visit(edge.to);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const name of names) if (!state.has(name)) visit(name);
  return found;
}

/** At least one source and one sink; each vertex wired on the sides its role needs. */
function roleIssues(vertices: readonly VertexInfo[], edges: readonly Edge[] | undefined): IssueDraft[] {
  const issues: IssueDraft[] = [];
  const sources = vertices.filter((vertex) => vertex.role === "source");
  const sinks = vertices.filter((vertex) => vertex.role === "sink");
  if (sources.length === 0) {
    issues.push({
      path: ["vertices"],
      message: "the pipeline has no source vertex",
      hint: "add one, e.g. { name: in, source: { generator: { rpu: 5 } } }, with an edge out of it",
    });
  }
  if (sinks.length === 0) {
    issues.push({
      path: ["vertices"],
      message: "the pipeline has no sink vertex",
      hint: "add one, e.g. { name: out, sink: { log: {} } }, with an edge into it",
    });
  }
  if (edges === undefined) return issues;
  for (const vertex of vertices) {
    const { name, role, index } = vertex;
    if ((role === "udf" || role === "sink") && !edges.some((edge) => edge.to === name)) {
      const upstream = vertices.find((other) => other !== vertex && (other.role === "source" || other.role === "udf"));
      issues.push({
        path: ["vertices", index],
        message: `${role} vertex '${name}' has no input edge`,
        hint: `add an edge such as { from: ${upstream?.name ?? "<vertex>"}, to: ${name} }, or remove the vertex`,
      });
    }
    if ((role === "source" || role === "udf") && !edges.some((edge) => edge.from === name)) {
      const downstream = vertices.find((other) => other !== vertex && (other.role === "udf" || other.role === "sink"));
      issues.push({
        path: ["vertices", index],
        message: `${role} vertex '${name}' has no output edge`,
        hint: `add an edge such as { from: ${name}, to: ${downstream?.name ?? "<vertex>"} }, or remove the vertex`,
      });
    }
  }
  return issues;
}
