/**
 * The Catalog sidebar: search with facets and paging. Opening a result opens the dataset in the main area
 * (dataset.tsx: header, Schema, Preview, Lineage, Access), where there is room for its columns; the helpers
 * here (formatting, PII badges, tags) are shared with it.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { AccessRequests } from './access';
import * as api from './api';
import {
  CheckStatus,
  DatasetDetail,
  DatasetField,
  DatasetSummary,
  FACET_NAMES,
  FacetName,
  FreshnessState,
  SearchResponse
} from './types';

const PER_PAGE = 20;
const SEARCH_DELAY_MS = 250;

export interface CatalogActions {
  /** Open a dataset's main-area tab. */
  openDataset(namespace: string, name: string): void;
}

export function formatCount(n: number | null | undefined): string {
  return typeof n === 'number' ? n.toLocaleString('en-US') : '—';
}

export function formatBytes(n: number | null | undefined): string {
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

export function formatTime(text: string | null | undefined): string {
  if (!text) {
    return '—';
  }
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? text : date.toLocaleString();
}

export function jobId(job: DatasetDetail['producing_job']): { id: string; label: string } | null {
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

export function PiiBadge(props: { field: DatasetField }): JSX.Element | null {
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

/** The promise of a freshness target in words ("within 2h", "by 07:00 Europe/Amsterdam"). */
export function describeTarget(target: FreshnessState['target']): string {
  if (!target) {
    return 'no freshness target';
  }
  return target.by ? `by ${target.by} ${target.timezone ?? 'UTC'}` : `within ${target.max_lag}`;
}

/** Seconds since `lastModified` (ISO time), or null: lists leave the age out of the state (catalog: without_age). */
export function ageOf(f: FreshnessState, lastModified?: string | null): number | null {
  if (typeof f.age_seconds === 'number') {
    return f.age_seconds;
  }
  const at = lastModified ? Date.parse(lastModified) : NaN;
  return Number.isNaN(at) ? null : Math.max(0, (Date.now() - at) / 1000);
}

/** Short text of a freshness state: "fresh", "late 12 min", or the age when nothing was promised. */
export function freshnessText(f: FreshnessState, lastModified?: string | null): string {
  if (f.state === 'fresh') {
    return 'fresh';
  }
  if (f.state === 'late') {
    return `late ${f.late_minutes ?? 0} min`;
  }
  const age = ageOf(f, lastModified);
  return age === null ? 'no version yet' : formatAge(age);
}

/** A coloured badge of a dataset's freshness (green fresh, red late, grey unknown with its age). */
export function FreshnessBadge(props: {
  freshness?: FreshnessState | null;
  lastModified?: string | null;
}): JSX.Element | null {
  const f = props.freshness;
  if (!f) {
    return null;
  }
  const title =
    f.state === 'late'
      ? `Late by ${f.late_minutes ?? 0} minutes: promised ${describeTarget(f.target)}`
      : f.state === 'fresh'
        ? `Fresh: promised ${describeTarget(f.target)}`
        : f.target
          ? `Unknown: no version yet (promised ${describeTarget(f.target)})`
          : `No freshness target; last changed ${formatAge(ageOf(f, props.lastModified))}`;
  return (
    <span className={`paved-fresh paved-fresh--${f.state}`} data-state={f.state} title={title}>
      <span className="paved-fresh-dot" aria-hidden="true" />
      {freshnessText(f, props.lastModified)}
    </span>
  );
}

/** A coloured badge of a dataset's latest quality checks (✓ passed, ! warned, ✕ failed with their names). */
export function ChecksBadge(props: { checks?: CheckStatus | null }): JSX.Element | null {
  const c = props.checks;
  if (!c) {
    return null;
  }
  const failed = c.failed ?? [];
  const mark = c.status === 'passed' ? '✓' : c.status === 'warned' ? '!' : '✕';
  return (
    <span
      className={`paved-checks paved-checks--${c.status}`}
      data-status={c.status}
      title={`Latest checks ${c.status}${failed.length ? `: ${failed.join(', ')}` : ''}${
        c.event_time ? ` (${formatTime(c.event_time)})` : ''
      }`}
    >
      {mark} checks {c.status}
      {c.status !== 'passed' && failed.length ? `: ${failed.join(', ')}` : ''}
    </span>
  );
}

export function Tags(props: { tags?: string[] }): JSX.Element | null {
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

  /** Open one dataset (in the main area). */
  openDataset(namespace: string, name: string): void {
    this._actions.openDataset(namespace, name);
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

  protected render(): JSX.Element {
    return (
      <div className="paved-catalog-body">
        <div className="paved-catalog-header">
          <h2>Catalog</h2>
          <button
            className="paved-button paved-open-requests"
            onClick={() => {
              this._showRequests = true;
              this.update();
            }}
          >
            Requests
          </button>
        </div>
        {this._showRequests ? (
          <AccessRequests
            onClose={() => {
              this._showRequests = false;
              this.update();
            }}
          />
        ) : (
          this.renderSearch()
        )}
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
        <ul className="paved-results">{(r?.results ?? []).map(d => this.renderResult(d))}</ul>
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
        <button className="paved-result-open" onClick={() => this.openDataset(d.namespace, d.name)}>
          <span className="paved-result-name" title={d.name}>
            {api.displayName(d.name, d.title)}
          </span>
          <span className="paved-result-meta paved-muted">
            {[d.project, d.environment, d.platform].filter(Boolean).join(' · ')}
            {typeof d.row_count === 'number' ? ` · ${formatCount(d.row_count)} rows` : ''}
          </span>
          {d.freshness_state || d.checks ? (
            <span className="paved-result-status">
              <FreshnessBadge freshness={d.freshness_state} lastModified={d.last_modified} />
              <ChecksBadge checks={d.checks} />
            </span>
          ) : null}
          {d.description ? <span className="paved-result-description">{d.description}</span> : null}
          <Tags tags={d.tags} />
        </button>
      </li>
    );
  }
}
