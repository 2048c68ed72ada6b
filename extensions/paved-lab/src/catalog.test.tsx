import { fireEvent, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';

import { CatalogWidget, formatAge, formatBytes } from './catalog';
import { mockFetch, mount } from './testing/fetch';

const ANSWER = {
  total: 1,
  page: 1,
  per_page: 20,
  results: [
    {
      id: 'dataset:file:/lake/prices_daily',
      namespace: 'file',
      name: '/lake/prices_daily',
      title: 'prices_daily',
      project: 'imbalance-price-forecast',
      environment: 'dev',
      platform: 'duckdb',
      row_count: 1234,
      tags: ['gold']
    }
  ],
  facets: { project: { 'imbalance-price-forecast': 1 }, tag: { gold: 1 } }
};

describe('CatalogWidget', () => {
  it('searches, lists the results and opens one', async () => {
    const calls = mockFetch(() => ({ body: ANSWER }));
    const openDataset = vi.fn();
    const widget = mount(new CatalogWidget({ openDataset }));
    await widget.search();
    expect(await screen.findByText('prices_daily')).toBeTruthy();
    expect(screen.getByText('1 dataset')).toBeTruthy();
    expect(screen.getByText(/1,234 rows/)).toBeTruthy();
    expect(calls[0].path).toBe('catalog/api/catalog/v1/search');
    expect(calls[0].query.get('page')).toBe('1');
    fireEvent.click(screen.getByText('prices_daily'));
    expect(openDataset).toHaveBeenCalledWith('file', '/lake/prices_daily');
    widget.dispose();
  });

  it('filters by a facet value', async () => {
    const calls = mockFetch(() => ({ body: ANSWER }));
    const widget = mount(new CatalogWidget({ openDataset: vi.fn() }));
    await widget.search();
    const chip = await screen.findByRole('button', { name: /^gold/ });
    fireEvent.click(chip);
    await vi.waitFor(() => expect(calls.length).toBe(2));
    expect(calls[1].query.get('tag')).toBe('gold');
    widget.dispose();
  });

  it('shows the error of a failed search', async () => {
    mockFetch(() => ({ status: 503, body: { message: 'The catalog service is not running' } }));
    const widget = mount(new CatalogWidget({ openDataset: vi.fn() }));
    await widget.search();
    expect(await screen.findByText('The catalog service is not running')).toBeTruthy();
    widget.dispose();
  });
});

describe('formatting', () => {
  it.each([
    [null, '—'],
    [512, '512 B'],
    [2048, '2.0 KB'],
    [5 * 1024 ** 3, '5.0 GB']
  ])('formatBytes(%j) is %j', (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });

  it.each([
    [0, 'just now'],
    [1, '1 second ago'],
    [90, '1 minute ago'],
    [7200, '2 hours ago'],
    ['yesterday', 'yesterday'],
    [null, '—']
  ])('formatAge(%j) is %j', (value, text) => {
    expect(formatAge(value)).toBe(text);
  });
});
