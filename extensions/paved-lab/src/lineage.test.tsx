import { fireEvent, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';

import { LineageWidget } from './lineage';
import { mockFetch, mount } from './testing/fetch';

const CENTER = 'dataset:file:/lake/prices_daily';
const JOB = 'job:paved:ingest_prices';
const GRAPH = [
  {
    id: CENTER,
    type: 'DATASET',
    data: { namespace: 'file', name: '/lake/prices_daily' },
    inEdges: [{ origin: JOB, destination: CENTER }],
    outEdges: []
  },
  {
    id: JOB,
    type: 'JOB',
    data: { namespace: 'paved', name: 'ingest_prices' },
    inEdges: [],
    outEdges: [{ origin: JOB, destination: CENTER }]
  }
];

function lineageCalls(calls: { path: string; query: URLSearchParams }[]) {
  return calls.filter(c => c.path === 'catalog/api/v1/lineage');
}

describe('LineageWidget', () => {
  it('draws the graph around a node and asks again for another direction and depth', async () => {
    const calls = mockFetch(call =>
      call.path === 'catalog/api/v1/lineage' ? { body: { graph: GRAPH } } : { body: { fields: [] } }
    );
    const openDataset = vi.fn();
    const widget = mount(new LineageWidget(openDataset));
    widget.focusOn(CENTER);
    expect(await screen.findByText('ingest_prices')).toBeTruthy();
    expect(widget.title.label).toBe('Lineage: prices_daily');
    expect(lineageCalls(calls)[0].query.get('nodeId')).toBe(CENTER);
    expect(lineageCalls(calls)[0].query.get('depth')).toBe('1');
    expect(lineageCalls(calls)[0].query.get('direction')).toBe('both');

    fireEvent.click(screen.getByText('\u2190 Upstream'));
    await vi.waitFor(() => expect(lineageCalls(calls).length).toBe(2));
    expect(lineageCalls(calls)[1].query.get('direction')).toBe('upstream');
    fireEvent.click(screen.getByLabelText('More depth'));
    await vi.waitFor(() => expect(lineageCalls(calls).length).toBe(3));
    expect(lineageCalls(calls)[2].query.get('depth')).toBe('2');

    fireEvent.click(screen.getByText('Open in catalog'));
    expect(openDataset).toHaveBeenCalledWith('file', '/lake/prices_daily');
    widget.dispose();
  });

  it('says when nothing is recorded, and shows errors', async () => {
    mockFetch(call =>
      call.path === 'catalog/api/v1/lineage'
        ? { status: 404, body: { message: 'No node dataset:file:/nowhere' } }
        : { body: { fields: [] } }
    );
    const widget = mount(new LineageWidget(vi.fn()));
    widget.focusOn('dataset:file:/nowhere');
    expect(await screen.findByText('No node dataset:file:/nowhere')).toBeTruthy();
    widget.dispose();
  });
});
