/**
 * Browser side of the Paved connections: every call goes to this Jupyter
 * server's `/paved/...` routes (`/paved/catalog/` is forwarded to the catalog
 * service with the user's hub token; `/paved/promote/` runs `paved promote`
 * in the server). The browser never holds that token.
 */
import { ServerConnection } from '@jupyterlab/services';

import {
  AccessRequest,
  AuditEntry,
  ColumnLineageResponse,
  DatasetDetail,
  Direction,
  FacetName,
  Grant,
  IPavedStatus,
  LineageResponse,
  PreviewResponse,
  Problem,
  PromoteInfo,
  PromoteRefusal,
  PromoteResult,
  PromoteValues,
  Purpose,
  SearchResponse,
  SnippetResponse,
  TestRunFailure
} from './types';

/** An error answer of a Paved route (the forwarded services or the promote endpoints), with its message
 * and the parsed JSON body (e.g. `problems` of a refused promotion). */
export class PavedError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: Record<string, unknown> | null = null
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | undefined | null>;

function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') {
      params.append(key, String(value));
    }
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** Call `<server>/paved/<path>` (a forwarded service or a server-extension endpoint) and parse its JSON. */
export async function pavedRequest<T>(path: string, init: RequestInit, what = 'The server'): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = `${settings.baseUrl}paved/${path}`;
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new PavedError(`Cannot reach the Jupyter server: ${String(error)}`, 0);
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const record = body && typeof body === 'object' ? (body as Record<string, unknown>) : null;
  if (!response.ok) {
    const detail = record ? (record.message ?? record.error) : undefined;
    throw new PavedError(
      typeof detail === 'string' && detail ? detail : `${response.status} ${response.statusText}`,
      response.status,
      record
    );
  }
  if (body === null) {
    throw new PavedError(`${what} answered with something that is not JSON`, response.status);
  }
  return body as T;
}

/** GET a catalog path (relative to the catalog service root) and parse its JSON. */
export function catalogGet<T>(path: string, query: Query = {}): Promise<T> {
  // 'no-cache' (revalidate) rather than the default 'no-store', which appends a cache-busting number to the query.
  return pavedRequest<T>(`catalog/${path}${queryString(query)}`, { method: 'GET', cache: 'no-cache' }, 'The catalog');
}

/** The catalog path of one dataset: namespace and name are each one URL path segment. */
export function datasetPath(namespace: string, name: string): string {
  return `api/catalog/v1/datasets/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
}

export interface SearchParams {
  q: string;
  filters: Partial<Record<FacetName, string>>;
  page: number;
  perPage: number;
}

export function search(params: SearchParams): Promise<SearchResponse> {
  return catalogGet<SearchResponse>('api/catalog/v1/search', {
    q: params.q,
    ...params.filters,
    page: params.page,
    per_page: params.perPage
  });
}

export function dataset(namespace: string, name: string): Promise<DatasetDetail> {
  return catalogGet<DatasetDetail>(datasetPath(namespace, name));
}

export function preview(namespace: string, name: string, limit = 100): Promise<PreviewResponse> {
  return catalogGet<PreviewResponse>(`${datasetPath(namespace, name)}/preview`, { limit });
}

export function snippet(namespace: string, name: string): Promise<SnippetResponse> {
  return catalogGet<SnippetResponse>(`${datasetPath(namespace, name)}/snippet`);
}

export function lineage(nodeId: string, depth: number, direction: Direction): Promise<LineageResponse> {
  return catalogGet<LineageResponse>('api/v1/lineage', { nodeId, depth, direction });
}

export function columnLineage(nodeId: string, depth: number, withDownstream: boolean): Promise<ColumnLineageResponse> {
  return catalogGet<ColumnLineageResponse>('api/v1/column-lineage', {
    nodeId,
    depth,
    withDownstream: String(withDownstream)
  });
}

// --- Data access: requests, decisions, grants and audit (catalog `api/catalog/v1/...`) ---------------------

function catalogPost<T>(path: string, body: unknown): Promise<T> {
  return pavedRequest<T>(
    `catalog/api/catalog/v1/${path}`,
    { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } },
    'The catalog'
  );
}

export function accessPurposes(): Promise<{ purposes: Purpose[]; admin_of: string[] }> {
  return catalogGet('api/catalog/v1/access-purposes');
}

export function accessRequests(): Promise<{ requests: AccessRequest[] }> {
  return catalogGet('api/catalog/v1/access-requests');
}

export interface AccessRequestBody {
  namespace: string;
  name: string;
  project: string;
  environment: string;
  access: 'read' | 'write';
  days: number;
  reason: string;
}

export function requestAccess(body: AccessRequestBody): Promise<AccessRequest> {
  return catalogPost<AccessRequest>('access-requests', body);
}

export function decideAccess(id: string, verb: 'approve' | 'deny', comment: string): Promise<unknown> {
  return catalogPost(`access-requests/${encodeURIComponent(id)}/${verb}`, { comment });
}

export function datasetAudit(namespace: string, name: string): Promise<{ audit: AuditEntry[] }> {
  return catalogGet('api/catalog/v1/audit', { namespace, name });
}

export function activeGrants(): Promise<{ grants: Grant[] }> {
  return catalogGet('api/catalog/v1/grants', { active: 'true' });
}

// --- Promote to pipeline (paved_lab/promote.py runs `paved promote` in the server) ---------------------------

export function inspectNotebook(path: string): Promise<PromoteInfo> {
  return pavedRequest<PromoteInfo>('promote/inspect', { method: 'POST', body: JSON.stringify({ path }) }, 'Promote');
}

export function deployNotebook(path: string, values: PromoteValues): Promise<PromoteResult> {
  return pavedRequest<PromoteResult>(
    'promote/deploy',
    { method: 'POST', body: JSON.stringify({ path, ...values }) },
    'Promote'
  );
}

/** Run now / rerun the failed runs of the pipeline just promoted, through the notebook server. */
export function pipelineAction(
  pipeline: { project: string; name: string },
  action: 'run' | 'rerun-failed'
): Promise<{ run_id?: number; run_ids?: number[] }> {
  return pavedRequest(
    `promote/${action}`,
    { method: 'POST', body: JSON.stringify({ project: pipeline.project, name: pipeline.name }) },
    'Promote'
  );
}

/** What a refused promotion says, from the error's JSON body (its `field_problems` as sent, no text parsing). */
export function promoteRefusal(error: unknown): PromoteRefusal {
  if (!(error instanceof PavedError)) {
    return {
      message: 'Promote failed',
      problems: [{ field: '', message: String(error) }],
      failure: null,
      howToTag: ''
    };
  }
  const body = error.body ?? {};
  const listed = Array.isArray(body.field_problems) ? (body.field_problems as Partial<Problem>[]) : [];
  const problems = listed.map(p => ({ field: String(p.field ?? ''), message: String(p.message ?? '') }));
  const testRun = body.test_run as { failure?: TestRunFailure | null } | undefined;
  return {
    message: error.message,
    problems,
    failure: testRun?.failure ?? null,
    howToTag: typeof body.how_to_tag === 'string' ? body.how_to_tag : ''
  };
}

// --- The server's status (paved_lab/status.py) -----------------------------------------------------------------

export function serverStatus(): Promise<IPavedStatus> {
  return pavedRequest<IPavedStatus>('status', { method: 'GET' }, 'Paved status');
}

/** Tell the server the user is active (it postpones the idle stop); answers the status. */
export function reportActivity(): Promise<IPavedStatus> {
  return pavedRequest<IPavedStatus>('activity', { method: 'POST' }, 'Paved activity');
}

/** What to show for a dataset or job: its title, else the last path segment of its name. */
export function displayName(name: string, title?: unknown): string {
  if (typeof title === 'string' && title) {
    return title;
  }
  const parts = name.split('/').filter(Boolean);
  return parts.length ? parts[parts.length - 1] : name;
}

/** Split a node id `dataset:<ns>:<name>` / `job:<ns>:<name>`; the namespace may itself hold colons. */
export function parseNodeId(id: string): { kind: string; namespace: string; name: string } | null {
  const first = id.indexOf(':');
  const last = id.lastIndexOf(':');
  if (first < 0 || last <= first) {
    return null;
  }
  return { kind: id.slice(0, first), namespace: id.slice(first + 1, last), name: id.slice(last + 1) };
}
