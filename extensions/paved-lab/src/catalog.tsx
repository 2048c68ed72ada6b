/**
 * The Catalog sidebar: search with facets and paging, then a dataset page
 * (schema with PII tags, owners, tags, freshness, row count, description, preview)
 * with actions: insert the load snippet into the notebook, copy the path, open lineage.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { AccessRequests, DatasetUsage, RequestAccess } from './access';
import * as api from './api';
import {
  DatasetDetail,
  DatasetField,
  DatasetSummary,
  FACET_NAMES,
  FacetName,
  PreviewResponse,
  SearchResponse
} from './types';

const PER_PAGE = 20;
const SEARCH_DELAY_MS = 250;

export interface CatalogActions {
  /** Put code into the active notebook cell; resolves to a message for the user. */
  insertSnippet(code: string): Promise<string>;
  copy(text: string): void;
  openLineage(nodeId: string): void;
}

function formatCount(n: number | null | undefined): string {
  return typeof n === 'number' ? n.toLocaleString('en-US') : '—';
}

function formatBytes(n: number | null | undefined): string {
  if (typeof n !== 'number') {
    return '—';
  }
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** Seconds since the last change as "5 minutes ago". */
export function formatAge(value: number | string | null | undefined): string {
  if (typeof value === 'string') {
    return value || '—';
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return '—';
  }
  const steps: [number, string][] = [
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
    [1, 'second']
  ];
  const seconds = Math.max(0, Math.round(value));
  for (const [size, unit] of steps) {
    if (seconds >= size) {
      const n = Math.floor(seconds / size);
      return `${n} ${unit}${n === 1 ? '' : 's'} ago`;
    }
  }
  return 'just now';
}

function formatTime(text: string | null | undefined): string {
  if (!text) {
    return '—';
  }
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? text : date.toLocaleString();
}

function jobId(job: DatasetDetail['producing_job']): { id: string; label: string } | null {
  if (!job) {
    return null;
  }
  if (typeof job === 'string') {
    return { id: job.startsWith('job:') ? job : `job:${job}`, label: job.replace(/^job:/, '') };
  }
  if (job.name) {
    return { id: `job:${job.namespace ?? ''}:${job.name}`, label: job.name };
  }
  return null;
}

function PiiBadge(props: { field: DatasetField }): JSX.Element | null {
  const pii = props.field.pii;
  if (!pii || !pii.suggested) {
    return null;
  }
  const status = pii.status ?? 'suggested';
  return (
    <span
      className={`paved-pii paved-pii--${status}`}
      title={`PII ${status}: ${pii.suggested}`}
      data-pii={pii.suggested}
    >
      PII: {pii.suggested}
      {status === 'suggested' ? '?' : status === 'rejected' ? ' ✕' : ''}
    </span>
  );
}

function Tags(props: { tags?: string[] }): JSX.Element | null {
  if (!props.tags || props.tags.length === 0) {
    return null;
  }
  return (
    <span className="paved-tags">
      {props.tags.map(t => (
        <span key={t} className="paved-tag">
          {t}
        </span>
      ))}
    </span>
  );
}

function PreviewTable(props: { preview: PreviewResponse }): JSX.Element {
  const { columns, rows } = props.preview;
  const cell = (v: unknown): string =>
    v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return (
    <div className="paved-preview-scroll">
      <table className="paved-table paved-preview">
        <thead>
          <tr>
            {columns.map(c => (
              <th key={c.name} title={c.type}>
                {c.name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => (
            <tr key={i}>
              {row.map((v, j) => (
                <td key={j}>{cell(v)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The sidebar widget; it keeps its state itself and re-renders on `update()`. */
export class CatalogWidget extends ReactWidget {
  private _query = '';
  private _filters: Partial<Record<FacetName, string>> = {};
  private _page = 1;
  private _results: SearchResponse | null = null;
  private _searchError = '';
  private _searching = false;
  private _searchRequest = 0;
  private _timer: number | undefined;

  private _dataset: DatasetDetail | null = null;
  private _datasetKey: { namespace: string; name: string } | null = null;
  private _datasetError = '';
  private _preview: PreviewResponse | null = null;
  private _previewError = '';
  private _status = '';
  private _datasetRequest = 0;
  private _showRequests = false;

  constructor(private readonly _actions: CatalogActions) {
    super();
    this.id = 'paved-catalog';
    this.addClass('paved-catalog');
    this.title.caption = 'Data catalog';
  }

  /** Run the first search when the panel is first shown. */
  protected onAfterShow(): void {
    if (this._results === null && !this._searching) {
      void this.search();
    }
  }

  async search(page = 1): Promise<void> {
    const request = ++this._searchRequest;
    this._page = page;
    this._searching = true;
    this._searchError = '';
    this.update();
    try {
      const results = await api.search({
        q: this._query,
        filters: this._filters,
        page,
        perPage: PER_PAGE
      });
      if (request === this._searchRequest) {
        this._results = results;
      }
    } catch (error) {
      if (request === this._searchRequest) {
        this._searchError = error instanceof Error ? error.message : String(error);
      }
    }
    if (request === this._searchRequest) {
      this._searching = false;
      this.update();
    }
  }

  /** Show one dataset's page (also used by the Lineage view's "Open in catalog"). */
  async openDataset(namespace: string, name: string): Promise<void> {
    const request = ++this._datasetRequest;
    this._datasetKey = { namespace, name };
    this._dataset = null;
    this._datasetError = '';
    this._preview = null;
    this._previewError = '';
    this._status = '';
    this.update();
    const [detail, preview] = await Promise.allSettled([
      api.dataset(namespace, name),
      api.preview(namespace, name)
    ]);
    if (request !== this._datasetRequest) {
      return;
    }
    if (detail.status === 'fulfilled') {
      this._dataset = detail.value;
    } else {
      this._datasetError = String(detail.reason?.message ?? detail.reason);
    }
    if (preview.status === 'fulfilled') {
      this._preview = preview.value;
    } else {
      this._previewError = String(preview.reason?.message ?? preview.reason);
    }
    this.update();
  }

  private closeDataset(): void {
    this._datasetRequest++;
    this._datasetKey = null;
    this._dataset = null;
    this.update();
  }

  private onQuery(value: string): void {
    this._query = value;
    this.update();
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(() => void this.search(1), SEARCH_DELAY_MS);
  }

  private toggleFilter(facet: FacetName, value: string): void {
    if (this._filters[facet] === value) {
      delete this._filters[facet];
    } else {
      this._filters[facet] = value;
    }
    void this.search(1);
  }

  private async insertSnippet(): Promise<void> {
    if (!this._datasetKey) {
      return;
    }
    const { namespace, name } = this._datasetKey;
    try {
      const snippet = await api.snippet(namespace, name);
      this._status = await this._actions.insertSnippet(snippet.code);
    } catch (error) {
      this._status = `Could not get the snippet: ${error instanceof Error ? error.message : error}`;
    }
    this.update();
  }

  private copyPath(): void {
    const d = this._dataset;
    if (!d) {
      return;
    }
    const path = d.location || `${d.namespace}/${d.name}`;
    this._actions.copy(path);
    this._status = `Copied ${path}`;
    this.update();
  }

  protected render(): JSX.Element {
    return (
      <div className="paved-catalog-body">
        <div className="paved-catalog-header">
          <h2>Catalog</h2>
          <button className="paved-button paved-open-requests" onClick={() => { this._showRequests = true; this.update(); }}>
            Requests
          </button>
        </div>
        {this._showRequests ? (
          <AccessRequests onClose={() => { this._showRequests = false; this.update(); }} />
        ) : this._datasetKey ? this.renderDataset() : this.renderSearch()}
      </div>
    );
  }

  private renderSearch(): JSX.Element {
    const r = this._results;
    const facets = r?.facets ?? {};
    const lastPage = r ? Math.max(1, Math.ceil(r.total / (r.per_page || PER_PAGE))) : 1;
    return (
      <div className="paved-catalog-search-view">
        <input
          className="paved-catalog-search jp-mod-styled"
          type="search"
          placeholder="Search datasets…"
          aria-label="Search datasets"
          value={this._query}
          onChange={e => this.onQuery(e.currentTarget.value)}
          onKeyDown={e => {
            if (e.key === 'Enter') {
              window.clearTimeout(this._timer);
              void this.search(1);
            }
          }}
        />
        <div className="paved-facets">
          {FACET_NAMES.map(facet => {
            const values = Object.entries(facets[facet] ?? {});
            const active = this._filters[facet];
            if (values.length === 0 && !active) {
              return null;
            }
            return (
              <div key={facet} className="paved-facet" data-facet={facet}>
                <span className="paved-facet-name">{facet}</span>
                {values.map(([value, count]) => (
                  <button
                    key={value}
                    className={`paved-chip${active === value ? ' paved-chip--active' : ''}`}
                    data-value={value}
                    aria-pressed={active === value}
                    onClick={() => this.toggleFilter(facet, value)}
                  >
                    {value} <span className="paved-chip-count">{count}</span>
                  </button>
                ))}
              </div>
            );
          })}
        </div>
        {this._searchError ? <div className="paved-error">{this._searchError}</div> : null}
        <div className="paved-results-summary paved-muted">
          {this._searching ? 'Searching…' : r ? `${formatCount(r.total)} dataset${r.total === 1 ? '' : 's'}` : ''}
        </div>
        <ul className="paved-results">
          {(r?.results ?? []).map(d => this.renderResult(d))}
        </ul>
        {r && lastPage > 1 ? (
          <div className="paved-pager">
            <button
              className="paved-button"
              disabled={this._page <= 1}
              onClick={() => void this.search(this._page - 1)}
            >
              ‹ Prev
            </button>
            <span className="paved-muted">
              page {this._page} of {lastPage}
            </span>
            <button
              className="paved-button"
              disabled={this._page >= lastPage}
              onClick={() => void this.search(this._page + 1)}
            >
              Next ›
            </button>
          </div>
        ) : null}
      </div>
    );
  }

  private renderResult(d: DatasetSummary): JSX.Element {
    return (
      <li key={d.id} className="paved-result" data-id={d.id}>
        <button className="paved-result-open" onClick={() => void this.openDataset(d.namespace, d.name)}>
          <span className="paved-result-name" title={d.name}>
            {api.displayName(d.name, d.title)}
          </span>
          <span className="paved-result-meta paved-muted">
            {[d.project, d.environment, d.platform].filter(Boolean).join(' · ')}
            {typeof d.row_count === 'number' ? ` · ${formatCount(d.row_count)} rows` : ''}
          </span>
          {d.description ? <span className="paved-result-description">{d.description}</span> : null}
          <Tags tags={d.tags} />
        </button>
      </li>
    );
  }

  private renderDataset(): JSX.Element {
    const key = this._datasetKey as { namespace: string; name: string };
    const d = this._dataset;
    const job = jobId(d?.producing_job);
    const alerts = d?.pii_alerts ?? [];
    const discoverOnly = (d as { access?: string } | null)?.access === 'request'; // no data until granted
    return (
      <div className="paved-dataset">
        <button className="paved-button paved-back" onClick={() => this.closeDataset()}>
          ‹ Results
        </button>
        <h3 className="paved-dataset-name">{api.displayName(key.name, d?.title)}</h3>
        <div className="paved-dataset-namespace paved-muted">
          {key.namespace}:{key.name}
        </div>
        {this._datasetError ? <div className="paved-error">{this._datasetError}</div> : null}
        {!d && !this._datasetError ? <div className="paved-muted">Loading…</div> : null}
        {d ? (
          <>
            <div className="paved-actions" style={discoverOnly ? { display: "none" } : undefined}>
              <button className="paved-button paved-insert-snippet" onClick={() => void this.insertSnippet()}>
                Insert snippet
              </button>
              <button className="paved-button paved-copy-path" onClick={() => this.copyPath()}>
                Copy path
              </button>
              <button
                className="paved-button paved-open-lineage"
                onClick={() => this._actions.openLineage(d.id || `dataset:${d.namespace}:${d.name}`)}
              >
                Lineage
              </button>
            </div>
            {this._status ? <div className="paved-status">{this._status}</div> : null}
            {alerts.length > 0 ? (
              <div className="paved-alerts">
                {alerts.map((a, i) => (
                  <div key={i} className="paved-alert">
                    ⚠ {typeof a === 'string' ? a : a.message ?? JSON.stringify(a)}
                  </div>
                ))}
              </div>
            ) : null}
            {discoverOnly ? (
              <RequestAccess namespace={key.namespace} name={key.name} />
            ) : null}
            {(d as { access?: string }).access === 'own' ? (
              <DatasetUsage namespace={key.namespace} name={key.name} />
            ) : null}
            {d.description ? <p className="paved-dataset-description">{d.description}</p> : null}
            <table className="paved-table paved-facts">
              <tbody>
                <tr><th>Project</th><td>{d.project ?? '—'}{d.environment ? ` (${d.environment})` : ''}</td></tr>
                <tr><th>Owners</th><td className="paved-owners">{(d.owners ?? []).join(', ') || '—'}</td></tr>
                <tr><th>Tags</th><td><Tags tags={d.tags} /></td></tr>
                <tr><th>Platform</th><td>{d.platform ?? '—'}</td></tr>
                <tr><th>Rows</th><td className="paved-row-count">{formatCount(d.row_count)}</td></tr>
                <tr><th>Size</th><td>{formatBytes(d.size_bytes)}</td></tr>
                <tr><th>Freshness</th><td className="paved-freshness">{formatAge(d.freshness)}</td></tr>
                <tr><th>Modified</th><td>{formatTime(d.last_modified)}</td></tr>
                <tr><th>Location</th><td className="paved-location">{d.location ?? '—'}</td></tr>
                <tr>
                  <th>Produced by</th>
                  <td>
                    {job ? (
                      <button className="paved-link" onClick={() => this._actions.openLineage(job.id)}>
                        {job.label}
                      </button>
                    ) : '—'}
                    {d.last_run?.state ? ` · last run ${d.last_run.state}` : ''}
                  </td>
                </tr>
              </tbody>
            </table>
            <h4>Schema</h4>
            <table className="paved-table paved-schema">
              <thead>
                <tr><th>Column</th><th>Type</th><th>Notes</th></tr>
              </thead>
              <tbody>
                {(d.fields ?? []).map(f => (
                  <tr key={f.name} data-field={f.name}>
                    <td>{f.name}</td>
                    <td className="paved-muted">{f.type ?? ''}</td>
                    <td>
                      <PiiBadge field={f} />
                      <Tags tags={f.tags} />
                      {f.description ? <span className="paved-field-description">{f.description}</span> : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        ) : null}
        {discoverOnly ? null : (
          <>
            <h4>Preview</h4>
            {this._previewError ? <div className="paved-error">{this._previewError}</div> : null}
            {this._preview ? <PreviewTable preview={this._preview} /> : null}
            {!this._preview && !this._previewError ? <div className="paved-muted">Loading…</div> : null}
          </>
        )}
      </div>
    );
  }
}
