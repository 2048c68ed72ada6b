import { fireEvent, render, screen } from '@testing-library/react';
import * as React from 'react';
import { describe, expect, it, vi } from 'vitest';

import { columnNodeId, ColumnLineageView } from './columns';
import { mockFetch } from './testing/fetch';

const PICKED = columnNodeId('file', '/lake/forecast', 'price');
const INPUT = columnNodeId('file', '/lake/prices_raw', 'eur_mwh');

function node(id: string, dataset: string, field: string, inputs: { dataset: string; field: string }[] = []) {
  return {
    id,
    type: 'DATASET_FIELD',
    data: {
      namespace: 'file',
      dataset,
      field,
      inputFields: inputs.map(i => ({ namespace: 'file', ...i, transformationType: 'DIRECT' }))
    },
    inEdges: inputs.length ? [{ origin: INPUT, destination: id }] : [],
    outEdges: inputs.length ? [] : [{ origin: id, destination: PICKED }]
  };
}

describe('ColumnLineageView', () => {
  it('lists the columns and shows where the picked one comes from', async () => {
    const calls = mockFetch(call =>
      call.path.startsWith('catalog/api/catalog/v1/datasets/')
        ? {
            body: { id: 'x', namespace: 'file', name: '/lake/forecast', fields: [{ name: 'price' }, { name: 'hour' }] }
          }
        : {
            body: {
              graph: [
                { ...node(PICKED, '/lake/forecast', 'price', [{ dataset: '/lake/prices_raw', field: 'eur_mwh' }]) },
                node(INPUT, '/lake/prices_raw', 'eur_mwh')
              ]
            }
          }
    );
    render(<ColumnLineageView namespace="file" name="/lake/forecast" depth={2} />);
    await screen.findByRole('option', { name: 'hour' });
    fireEvent.change(document.querySelector('.paved-columns-pick')!, { target: { value: 'price' } });
    expect(await screen.findByText('Comes from')).toBeTruthy();
    const hop = await vi.waitFor(() => {
      const found = document.querySelector(`.paved-columns-upstream .paved-column-hop[data-id="${INPUT}"]`);
      expect(found).toBeTruthy();
      return found!;
    });
    expect(hop.textContent).toBe('prices_raw.eur_mwh (DIRECT)');
    const lineage = calls.find(c => c.path === 'catalog/api/v1/column-lineage')!;
    expect(lineage.query.get('nodeId')).toBe(PICKED);
    expect(lineage.query.get('depth')).toBe('2');
    expect(lineage.query.get('withDownstream')).toBe('true');
  });

  it('says when the dataset has no known columns', async () => {
    mockFetch(() => ({ body: { id: 'x', namespace: 'file', name: 'y', fields: [] } }));
    render(<ColumnLineageView namespace="file" name="y" depth={1} />);
    expect(await screen.findByText('No columns known for this dataset.')).toBeTruthy();
  });
});
