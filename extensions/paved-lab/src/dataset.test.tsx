import { fireEvent, screen } from '@testing-library/react';
import { Widget } from '@lumino/widgets';
import { describe, expect, it, vi } from 'vitest';

import { compareCells, DatasetActions, DatasetPanel, runState } from './dataset';
import { mockFetch } from './testing/fetch';

const DETAIL = {
  id: 'dataset:file:/lake/prices_daily',
  namespace: 'file',
  name: '/lake/prices_daily',
  title: 'prices_daily',
  project: 'imbalance-price-forecast',
  environment: 'dev',
  owners: ['alice'],
  location: '/lake/prices_daily',
  row_count: 1234,
  fields: [
    { name: 'price', type: 'DOUBLE' },
    { name: 'email', type: 'VARCHAR', pii: { suggested: 'email', status: 'suggested' } }
  ]
};

function answer(call: { path: string }) {
  if (call.path.endsWith('/preview')) {
    return { body: { columns: [{ name: 'price' }], rows: [[41.5]] } };
  }
  if (call.path.endsWith('/snippet')) {
    return { body: { language: 'python', code: 'data.read("prices_daily")', duckdb: 'duckdb.sql("...")' } };
  }
  return { body: DETAIL };
}

function actions(): DatasetActions {
  return { insertSnippet: vi.fn(async () => 'Inserted into the active cell'), copy: vi.fn(), openDataset: vi.fn() };
}

describe('DatasetPanel', () => {
  it('shows the dataset, its schema with PII suggestions and its facts', async () => {
    const calls = mockFetch(answer);
    const panel = new DatasetPanel('file', '/lake/prices_daily', actions());
    Widget.attach(panel, document.body);
    expect(await screen.findByRole('heading', { name: 'prices_daily' })).toBeTruthy();
    const row = await vi.waitFor(() => document.querySelector('tr[data-field="email"]')!);
    expect(row.textContent).toContain('PII: email?');
    expect(document.querySelector('.paved-row-count')?.textContent).toBe('1,234');
    expect(calls.map(c => c.path).sort()).toEqual([
      'catalog/api/catalog/v1/datasets/file/%2Flake%2Fprices_daily',
      'catalog/api/catalog/v1/datasets/file/%2Flake%2Fprices_daily/preview'
    ]);
    panel.dispose();
  });

  it('inserts the snippet and copies the path', async () => {
    mockFetch(answer);
    const done = actions();
    const panel = new DatasetPanel('file', '/lake/prices_daily', done);
    Widget.attach(panel, document.body);
    fireEvent.click(await screen.findByText('Insert snippet'));
    expect(await screen.findByText('Inserted into the active cell')).toBeTruthy();
    expect(done.insertSnippet).toHaveBeenCalledWith('data.read("prices_daily")');
    fireEvent.click(screen.getByText('Copy path'));
    expect(done.copy).toHaveBeenCalledWith('/lake/prices_daily');
    panel.dispose();
  });
});

describe('compareCells', () => {
  it.each([
    [1, 2, -1],
    [2, 1, 1],
    ['a', 'b', -1],
    [null, 1, 1]
  ])('compares %j with %j', (a, b, sign) => {
    expect(Math.sign(compareCells(a, b))).toBe(sign);
  });
});

describe('runState', () => {
  const run = (assertions: { assertion: string; success: boolean; severity?: string }[]) => ({
    run_id: 'r',
    success: assertions.every(a => a.success),
    assertions
  });

  it('heads a run whose only failures are warn checks as warned, not failed', () => {
    expect(runState(run([{ assertion: 'not_null(price)', success: true, severity: 'error' }]))).toBe('passed');
    expect(runState(run([{ assertion: 'unique(id)', success: false, severity: 'warn' }]))).toBe('warned');
    expect(
      runState(
        run([
          { assertion: 'unique(id)', success: false, severity: 'warn' },
          { assertion: 'not_null(price)', success: false, severity: 'error' }
        ])
      )
    ).toBe('failed');
  });
});
