/**
 * A small layered layout for lineage graphs (a Sugiyama-style sketch, no library):
 *
 * 1. layers: breadth-first from the centre node, one layer left for every edge walked
 *    against its direction (upstream) and one right for every edge walked along it;
 * 2. order inside a layer: a few barycentre sweeps (each node moves towards the mean
 *    position of its neighbours in the layer next to it) to keep crossings few;
 * 3. coordinates: layers are columns, nodes stacked and centred in their column;
 *    edges are cubic curves from a node's right side to the next node's left side.
 */
import { displayName } from './api';
import { LineageNode } from './types';

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 46;
const GAP_X = 90;
const GAP_Y = 22;
const MARGIN = 24;
const SWEEPS = 4;

export interface PlacedNode {
  id: string;
  type: string;
  label: string;
  fullName: string;
  namespace: string;
  locked: boolean;
  center: boolean;
  layer: number;
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

/** Layer of every node: signed distance from the centre (negative = upstream). */
export function assignLayers(
  ids: string[],
  edges: { origin: string; destination: string }[],
  centerId: string
): Map<string, number> {
  const outgoing = new Map<string, string[]>();
  const incoming = new Map<string, string[]>();
  for (const id of ids) {
    outgoing.set(id, []);
    incoming.set(id, []);
  }
  for (const e of edges) {
    outgoing.get(e.origin)?.push(e.destination);
    incoming.get(e.destination)?.push(e.origin);
  }
  const layer = new Map<string, number>();
  const start = ids.includes(centerId) ? centerId : ids[0];
  const roots = start === undefined ? [] : [start, ...ids.filter(id => id !== start)];
  // Nodes not reachable from the centre start their own walk (layer 0) so none is lost.
  for (const root of roots) {
    if (layer.has(root)) {
      continue;
    }
    layer.set(root, 0);
    const queue = [root];
    while (queue.length > 0) {
      const id = queue.shift() as string;
      const here = layer.get(id) as number;
      for (const next of outgoing.get(id) ?? []) {
        if (!layer.has(next)) {
          layer.set(next, here + 1);
          queue.push(next);
        }
      }
      for (const prev of incoming.get(id) ?? []) {
        if (!layer.has(prev)) {
          layer.set(prev, here - 1);
          queue.push(prev);
        }
      }
    }
  }
  return layer;
}

function label(node: LineageNode): { label: string; fullName: string; namespace: string; locked: boolean } {
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
  const ids = graph.map(n => n.id);
  const layers = assignLayers(ids, edges, centerId);
  const layerValues = [...layers.values()];
  const minLayer = layerValues.length ? Math.min(...layerValues) : 0;
  const maxLayer = layerValues.length ? Math.max(...layerValues) : 0;

  // Columns, first in a stable order (centre first, then by id) and then by barycentre sweeps.
  const columns: string[][] = [];
  for (let l = minLayer; l <= maxLayer; l++) {
    columns.push(
      ids
        .filter(id => layers.get(id) === l)
        .sort((a, b) => (a === centerId ? -1 : b === centerId ? 1 : a.localeCompare(b)))
    );
  }
  const neighbours = new Map<string, string[]>();
  for (const id of ids) {
    neighbours.set(id, []);
  }
  for (const e of edges) {
    neighbours.get(e.origin)?.push(e.destination);
    neighbours.get(e.destination)?.push(e.origin);
  }
  const position = new Map<string, number>();
  const remember = () => columns.forEach(col => col.forEach((id, i) => position.set(id, i)));
  remember();
  const reorder = (col: string[], reference: Set<string>) => {
    const score = (id: string): number => {
      const ns = (neighbours.get(id) ?? []).filter(n => reference.has(n));
      if (ns.length === 0) {
        return position.get(id) ?? 0;
      }
      return ns.reduce((sum, n) => sum + (position.get(n) ?? 0), 0) / ns.length;
    };
    const scored = col.map(id => ({ id, s: score(id) }));
    scored.sort((a, b) => a.s - b.s || a.id.localeCompare(b.id));
    col.splice(0, col.length, ...scored.map(x => x.id));
    col.forEach((id, i) => position.set(id, i));
  };
  for (let sweep = 0; sweep < SWEEPS; sweep++) {
    if (sweep % 2 === 0) {
      for (let c = 1; c < columns.length; c++) {
        reorder(columns[c], new Set(columns[c - 1]));
      }
    } else {
      for (let c = columns.length - 2; c >= 0; c--) {
        reorder(columns[c], new Set(columns[c + 1]));
      }
    }
  }

  const tallest = Math.max(1, ...columns.map(col => col.length));
  const height = MARGIN * 2 + tallest * NODE_HEIGHT + (tallest - 1) * GAP_Y;
  const width = MARGIN * 2 + columns.length * NODE_WIDTH + Math.max(0, columns.length - 1) * GAP_X;
  const byId = new Map(graph.map(n => [n.id, n]));
  const nodes: PlacedNode[] = [];
  const placed = new Map<string, PlacedNode>();
  columns.forEach((col, c) => {
    const colHeight = col.length * NODE_HEIGHT + (col.length - 1) * GAP_Y;
    const top = (height - colHeight) / 2;
    col.forEach((id, i) => {
      const node = byId.get(id) as LineageNode;
      const p: PlacedNode = {
        id,
        type: node.type,
        ...label(node),
        center: id === centerId,
        layer: minLayer + c,
        x: MARGIN + c * (NODE_WIDTH + GAP_X),
        y: top + i * (NODE_HEIGHT + GAP_Y)
      };
      nodes.push(p);
      placed.set(id, p);
    });
  });

  const placedEdges: PlacedEdge[] = edges.map(e => {
    const a = placed.get(e.origin) as PlacedNode;
    const b = placed.get(e.destination) as PlacedNode;
    const x1 = a.x + NODE_WIDTH;
    const y1 = a.y + NODE_HEIGHT / 2;
    const x2 = b.x;
    const y2 = b.y + NODE_HEIGHT / 2;
    // Edges against the layer order (cycles) loop round below the nodes.
    const bend = x2 > x1 ? (x2 - x1) / 2 : NODE_WIDTH / 2 + GAP_X;
    const path = `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`;
    return { origin: e.origin, destination: e.destination, path };
  });

  return { nodes, edges: placedEdges, width, height };
}
