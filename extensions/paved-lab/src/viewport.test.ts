import { describe, expect, it } from 'vitest';

import { fanOutParent, fanOutId } from './collapse';
import { GraphLayout, NODE_HEIGHT, NODE_WIDTH, PlacedNode } from './layout';
import { LABEL_FONT_PX, MIN_LABEL_PX, initialView } from './viewport';

function node(id: string, x: number, y: number): PlacedNode {
  return {
    id,
    type: 'DATASET',
    label: id,
    fullName: id,
    namespace: 'file',
    locked: false,
    center: false,
    collapsed: 0,
    x,
    y
  };
}

/** `count` nodes in one column, 68 px apart: the height a 200-node lineage reaches. */
function column(count: number): GraphLayout {
  const nodes = Array.from({ length: count }, (_, i) => node(`n${i}`, 24, 24 + i * 68));
  return { nodes, edges: [], width: NODE_WIDTH + 48, height: 48 + count * 68 };
}

describe('initialView', () => {
  it('fits a small graph whole', () => {
    const view = initialView(column(3), 1000, 600, 'n0');
    expect(view.fitted).toBe(true);
    expect(view.k).toBe(1);
  });

  it('keeps labels readable on a big graph, centred on the focal node', () => {
    const layout = column(200);
    const view = initialView(layout, 1000, 600, 'n120');
    expect(view.fitted).toBe(false);
    expect(LABEL_FONT_PX * view.k).toBeGreaterThanOrEqual(MIN_LABEL_PX - 1e-9);
    const focal = layout.nodes[120];
    expect(view.x + (focal.x + NODE_WIDTH / 2) * view.k).toBeCloseTo(500);
    expect(view.y + (focal.y + NODE_HEIGHT / 2) * view.k).toBeCloseTo(300);
  });

  it('falls back to the middle of the graph for a focus it does not hold', () => {
    const layout = column(200);
    const view = initialView(layout, 1000, 600, 'gone');
    expect(view.y + (layout.height / 2) * view.k).toBeCloseTo(300);
  });
});

describe('fanOutParent', () => {
  it('inverts fanOutId and leaves other ids alone', () => {
    expect(fanOutParent(fanOutId('job:paved:fan_0', 'out'))).toBe('job:paved:fan_0');
    expect(fanOutParent(fanOutId('dataset:file:/a:b', 'in'))).toBe('dataset:file:/a:b');
    expect(fanOutParent('dataset:file:/a')).toBe('dataset:file:/a');
  });
});
