import { fireEvent, render, screen } from '@testing-library/react';
import * as React from 'react';
import { describe, expect, it, vi } from 'vitest';

import { AccessRequests, RequestAccess } from './access';
import { mockFetch } from './testing/fetch';

const PURPOSES = {
  purposes: [
    { project: 'leads', environment: 'dev', admin: false },
    { project: 'leads', environment: 'prd', admin: true }
  ],
  admin_of: ['imbalance-price-forecast']
};

describe('RequestAccess', () => {
  it('requests access for the chosen project environment', async () => {
    const calls = mockFetch(call =>
      call.method === 'GET'
        ? { body: PURPOSES }
        : { status: 201, body: { id: 'ar-1', owner_project: 'imbalance-price-forecast' } }
    );
    render(<RequestAccess namespace="file" name="/lake/prices_daily" />);
    await screen.findByRole('option', { name: 'leads/prd' });
    fireEvent.change(document.querySelector('.paved-request-purpose')!, { target: { value: 'leads/prd' } });
    fireEvent.change(document.querySelector('.paved-request-kind')!, { target: { value: 'write' } });
    fireEvent.submit(document.querySelector('form.paved-request-access')!);
    expect(await screen.findByText(/Requested \(ar-1\)/)).toBeTruthy();
    const post = calls.find(c => c.method === 'POST')!;
    expect(post.path).toBe('catalog/api/catalog/v1/access-requests');
    expect(post.body).toMatchObject({
      namespace: 'file',
      name: '/lake/prices_daily',
      project: 'leads',
      environment: 'prd',
      access: 'write'
    });
  });

  it('shows why the purposes cannot be read', async () => {
    mockFetch(() => ({ status: 403, body: { message: 'Not allowed' } }));
    render(<RequestAccess namespace="file" name="x" />);
    expect(await screen.findByText('Not allowed')).toBeTruthy();
  });
});

describe('AccessRequests', () => {
  it('lets an owner admin approve a pending request', async () => {
    const request = {
      id: 'ar-9',
      status: 'pending',
      namespace: 'file',
      name: '/lake/prices_daily',
      owner_project: 'imbalance-price-forecast',
      project: 'leads',
      environment: 'dev',
      access: 'read',
      days: 90,
      reason: 'forecast features',
      requester: 'bob',
      created: '2026-11-30T08:00:00Z',
      decided_by: null,
      comment: null
    };
    const calls = mockFetch(call =>
      call.path.endsWith('access-purposes')
        ? { body: PURPOSES }
        : call.method === 'GET'
          ? { body: { requests: [request] } }
          : { body: { ...request, status: 'approved' } }
    );
    render(<AccessRequests onClose={vi.fn()} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Approve' }));
    await vi.waitFor(() => expect(calls.some(c => c.method === 'POST')).toBe(true));
    const post = calls.find(c => c.method === 'POST')!;
    expect(post.path).toBe('catalog/api/catalog/v1/access-requests/ar-9/approve');
    expect(post.body).toEqual({ comment: '' });
  });
});
