/**
 * Folding big fan-outs of a lineage graph: when a node has more than FAN_OUT_LIMIT neighbours on one side
 * (a job writing 40 partitions, a dataset read by 30 jobs), those neighbours are shown as one expandable node
 * ("30 datasets"); edges to or from the folded nodes go to that node instead. The centre node is never folded.
 */
import { LineageEdge, LineageNode } from './types';

export const FAN_OUT_LIMIT = 15;

/** The id of the folded node standing for `parent`'s neighbours on one side. */
export function fanOutId(parent: string, side: 'in' | 'out'): string {
  return `fanout:${side}:${parent}`;
}

/** The parent node of folded node `id` (the inverse of fanOutId); `id` itself when it is not a folded node. */
export function fanOutParent(id: string): string {
  const m = /^fanout:(?:in|out):(.*)$/s.exec(id);
  return m ? m[1] : id;
}

/** `graph` with every fan-out over `limit` folded into one node, except those whose id is in `expanded`. */
export function collapseFanOuts(
  graph: LineageNode[],
  centerId: string,
  expanded: ReadonlySet<string>,
  limit = FAN_OUT_LIMIT
): LineageNode[] {
  const ids = new Set(graph.map(n => n.id));
  const outs = new Map<string, Set<string>>();
  const ins = new Map<string, Set<string>>();
  for (const id of ids) {
    outs.set(id, new Set());
    ins.set(id, new Set());
  }
  for (const node of graph) {
    for (const e of [...(node.inEdges ?? []), ...(node.outEdges ?? [])]) {
      if (ids.has(e.origin) && ids.has(e.destination) && e.origin !== e.destination) {
        outs.get(e.origin)?.add(e.destination);
        ins.get(e.destination)?.add(e.origin);
      }
    }
  }
  const groupOf = new Map<string, string>(); // folded node id -> its fan-out node id
  const groups = new Map<string, { parent: string; members: string[] }>();
  const order = [...graph].sort((a, b) => (a.id === centerId ? -1 : b.id === centerId ? 1 : a.id.localeCompare(b.id)));
  for (const node of order) {
    if (groupOf.has(node.id)) {
      continue;
    }
    for (const side of ['out', 'in'] as const) {
      const key = fanOutId(node.id, side);
      const members = [...((side === 'out' ? outs : ins).get(node.id) ?? [])]
        .filter(id => id !== centerId && !groupOf.has(id) && !groups.has(id))
        .sort();
      if (members.length > limit && !expanded.has(key)) {
        members.forEach(m => groupOf.set(m, key));
        groups.set(key, { parent: node.id, members });
      }
    }
  }
  if (!groups.size) {
    return graph;
  }
  const rep = (id: string) => groupOf.get(id) ?? id;
  const edges = new Map<string, LineageEdge>();
  for (const [origin, targets] of outs) {
    for (const destination of targets) {
      const e = { origin: rep(origin), destination: rep(destination) };
      if (e.origin !== e.destination) {
        edges.set(`${e.origin}\u0000${e.destination}`, e);
      }
    }
  }
  const byId = new Map(graph.map(n => [n.id, n]));
  const kept: LineageNode[] = graph.filter(n => !groupOf.has(n.id)).map(n => ({ ...n, inEdges: [], outEdges: [] }));
  for (const [key, group] of groups) {
    const types = new Set(group.members.map(m => byId.get(m)?.type));
    const type = types.size === 1 ? ([...types][0] ?? 'DATASET') : 'DATASET';
    const noun = type === 'JOB' ? 'jobs' : 'datasets';
    kept.push({
      id: key,
      type,
      data: { collapsed: group.members.length, name: `${group.members.length} ${noun}`, members: group.members },
      inEdges: [],
      outEdges: []
    });
  }
  const placed = new Map(kept.map(n => [n.id, n]));
  for (const e of edges.values()) {
    placed.get(e.origin)?.outEdges.push(e);
    placed.get(e.destination)?.inEdges.push(e);
  }
  return kept;
}

/** Node ids and edge keys (`origin->destination`) on a shortest path between `from` and `to`, edges taken
 * in either direction; empty when there is none. */
export function tracePath(
  edges: { origin: string; destination: string }[],
  from: string,
  to: string
): { nodes: Set<string>; edges: Set<string> } {
  const next = new Map<string, { id: string; key: string }[]>();
  const add = (a: string, b: string, key: string) => {
    if (!next.has(a)) {
      next.set(a, []);
    }
    next.get(a)?.push({ id: b, key });
  };
  for (const e of edges) {
    const key = `${e.origin}->${e.destination}`;
    add(e.origin, e.destination, key);
    add(e.destination, e.origin, key);
  }
  const back = new Map<string, { id: string; key: string }>();
  const seen = new Set([from]);
  const queue = [from];
  while (queue.length && !seen.has(to)) {
    const id = queue.shift() as string;
    for (const n of next.get(id) ?? []) {
      if (!seen.has(n.id)) {
        seen.add(n.id);
        back.set(n.id, { id, key: n.key });
        queue.push(n.id);
      }
    }
  }
  const nodes = new Set<string>();
  const keys = new Set<string>();
  if (!seen.has(to)) {
    return { nodes, edges: keys };
  }
  let at = to;
  nodes.add(at);
  while (at !== from) {
    const step = back.get(at) as { id: string; key: string };
    keys.add(step.key);
    at = step.id;
    nodes.add(at);
  }
  return { nodes, edges: keys };
}
