/**
 * Layout of lineage graphs with dagre (@dagrejs/dagre, a maintained Sugiyama-style layered layout: rank
 * assignment, crossing reduction, coordinate assignment), left to right: upstream on the left, downstream on
 * the right. Big fan-outs are folded first (see collapse.ts), so a depth-20 graph of ~200 nodes stays readable.
 */
import dagre from '@dagrejs/dagre';

import { displayName } from './api';
import { LineageNode } from './types';

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 46;
const GAP_X = 90;
const GAP_Y = 22;
const MARGIN = 24;

export interface PlacedNode {
  id: string;
  type: string;
  label: string;
  fullName: string;
  namespace: string;
  locked: boolean;
  center: boolean;
  /** A folded fan-out: how many nodes it stands for (0 for ordinary nodes). */
  collapsed: number;
  x: number;
  y: number;
}

export interface PlacedEdge {
  origin: string;
  destination: string;
  path: string;
}

export interface GraphLayout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  width: number;
  height: number;
}

/** Every distinct edge of the graph whose two ends are nodes of the graph. */
export function graphEdges(graph: LineageNode[]): { origin: string; destination: string }[] {
  const ids = new Set(graph.map(n => n.id));
  const seen = new Set<string>();
  const edges: { origin: string; destination: string }[] = [];
  for (const node of graph) {
    for (const edge of [...(node.inEdges ?? []), ...(node.outEdges ?? [])]) {
      const key = `${edge.origin}\u0000${edge.destination}`;
      if (!seen.has(key) && ids.has(edge.origin) && ids.has(edge.destination)) {
        seen.add(key);
        edges.push({ origin: edge.origin, destination: edge.destination });
      }
    }
  }
  return edges;
}

function label(node: LineageNode): { label: string; fullName: string; namespace: string; locked: boolean } {
  if (typeof node.data?.collapsed === 'number') {
    return { label: String(node.data.name ?? ''), fullName: '', namespace: '', locked: false };
  }
  const locked = node.id.startsWith('stub:') || node.data?.locked === true;
  if (locked) {
    return { label: 'Restricted', fullName: '', namespace: '', locked };
  }
  const name = typeof node.data?.name === 'string' ? node.data.name : node.id;
  const namespace = typeof node.data?.namespace === 'string' ? node.data.namespace : '';
  return { label: displayName(name, node.data?.title), fullName: name, namespace, locked };
}

export function layoutGraph(graph: LineageNode[], centerId: string): GraphLayout {
  const edges = graphEdges(graph);
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: 'LR', nodesep: GAP_Y, ranksep: GAP_X, marginx: MARGIN, marginy: MARGIN });
  g.setDefaultEdgeLabel(() => ({}));
  // a stable input order (centre first, then by id) gives the same picture for the same graph
  const ordered = [...graph].sort((a, b) =>
    a.id === centerId ? -1 : b.id === centerId ? 1 : a.id.localeCompare(b.id)
  );
  for (const node of ordered) {
    g.setNode(node.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  }
  for (const e of edges) {
    if (e.origin !== e.destination) {
      g.setEdge(e.origin, e.destination);
    }
  }
  dagre.layout(g);
  const nodes: PlacedNode[] = ordered.map(node => {
    const at = g.node(node.id);
    const count = node.data?.collapsed;
    return {
      id: node.id,
      type: node.type,
      ...label(node),
      center: node.id === centerId,
      collapsed: typeof count === 'number' ? count : 0,
      x: at.x - NODE_WIDTH / 2,
      y: at.y - NODE_HEIGHT / 2
    };
  });
  const placedEdges: PlacedEdge[] = edges
    .filter(e => e.origin !== e.destination)
    .map(e => {
      const points = g.edge(e.origin, e.destination)?.points ?? [];
      const path = points.length
        ? 'M ' + points.map((p: { x: number; y: number }) => `${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(' L ')
        : '';
      return { origin: e.origin, destination: e.destination, path };
    });
  const box = g.graph();
  return {
    nodes,
    edges: placedEdges,
    width: Math.max(1, Math.ceil(box.width ?? 0)),
    height: Math.max(1, Math.ceil(box.height ?? 0))
  };
}
