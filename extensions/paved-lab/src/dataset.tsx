/**
 * One dataset in the main area (opened from the Catalog sidebar's results or the lineage graph): a header
 * (name, project, environment, owners, tags, freshness; Insert snippet through `paved.data`, the plain-DuckDB
 * variant, Copy path; coloured badges of its freshness and latest checks) over five tabs: Schema, Preview (a
 * sortable grid with every column, scrolling both ways), Quality (each run's checks drawn as a pass/fail grid),
 * Lineage (the full-size graph) and Access (requests and grants of the catalog's access service; a catalog
 * without it answers 404 and the tab says so).
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import { Panel, TabPanel, Widget } from '@lumino/widgets';
import * as React from 'react';

import { DatasetUsage, RequestAccess } from './access';
import * as api from './api';
import {
  ChecksBadge,
  describeTarget,
  formatAge,
  formatBytes,
  formatCount,
  formatTime,
  FreshnessBadge,
  jobId,
  PiiBadge,
  Tags
} from './catalog';
import { LineageWidget } from './lineage';
import { DatasetDetail, PreviewResponse, QualityRun } from './types';

export interface DatasetActions {
  /** Put code into the active notebook cell; resolves to a message for the user. */
  insertSnippet(code: string): Promise<string>;
  copy(text: string): void;
  openDataset(namespace: string, name: string): void;
}

/** The shared state of one dataset tab: what the catalog answered, loaded once, re-rendered by each part. */
class DatasetModel {
  detail: DatasetDetail | null = null;
  detailError = '';
  preview: PreviewResponse | null = null;
  previewError = '';
  status = '';
  readonly listeners: (() => void)[] = [];

  constructor(
    readonly namespace: string,
    readonly name: string
  ) {}

  get nodeId(): string {
    return this.detail?.id || `dataset:${this.namespace}:${this.name}`;
  }

  changed(): void {
    this.listeners.forEach(f => f());
  }

  async load(): Promise<void> {
    const [detail, preview] = await Promise.allSettled([
      api.dataset(this.namespace, this.name),
      api.preview(this.namespace, this.name)
    ]);
    if (detail.status === 'fulfilled') {
      this.detail = detail.value;
    } else {
      this.detailError = String(detail.reason?.message ?? detail.reason);
    }
    if (preview.status === 'fulfilled') {
      this.preview = preview.value;
    } else {
      this.previewError = String(preview.reason?.message ?? preview.reason);
    }
    this.changed();
  }
}

/** A ReactWidget re-rendered whenever its dataset's model changes. */
abstract class ModelView extends ReactWidget {
  constructor(protected readonly model: DatasetModel) {
    super();
    model.listeners.push(() => this.update());
  }
}

class Header extends ModelView {
  constructor(
    model: DatasetModel,
    private readonly _actions: DatasetActions,
    private readonly _showLineage: () => void
  ) {
    super(model);
    this.addClass('paved-dataset-header');
  }

  private async insert(variant: 'paved' | 'duckdb'): Promise<void> {
    const m = this.model;
    try {
      const snippet = await api.snippet(m.namespace, m.name);
      // `code` goes through paved.data (the read is recorded in lineage); `duckdb` reads the files directly
      const code = variant === 'duckdb' ? (snippet.duckdb ?? snippet.code) : snippet.code;
      m.status = await this._actions.insertSnippet(code);
    } catch (error) {
      m.status = `Could not get the snippet: ${error instanceof Error ? error.message : error}`;
    }
    m.changed();
  }

  private copyPath(): void {
    const d = this.model.detail;
    if (d) {
      const path = d.location || `${d.namespace}/${d.name}`;
      this._actions.copy(path);
      this.model.status = `Copied ${path}`;
      this.model.changed();
    }
  }

  protected render(): JSX.Element {
    const m = this.model;
    const d = m.detail;
    const alerts = d?.pii_alerts ?? [];
    // "request": another project's discoverable dataset (no data until a grant); "own": its owners see who reads it
    const access = (d as { access?: string } | null)?.access;
    const discoverOnly = access === 'request';
    return (
      <div className="paved-dataset">
        <h2 className="paved-dataset-name">{api.displayName(m.name, d?.title)}</h2>
        <div className="paved-dataset-namespace paved-muted">
          {m.namespace}:{m.name}
        </div>
        {m.detailError ? <div className="paved-error">{m.detailError}</div> : null}
        {!d && !m.detailError ? <div className="paved-muted">Loading…</div> : null}
        {d ? (
          <>
            <div className="paved-dataset-facts">
              <span>
                <span className="paved-muted">Project </span>
                <span className="paved-dataset-project">{d.project ?? '—'}</span>
              </span>
              <span>
                <span className="paved-muted">Environment </span>
                <span className="paved-dataset-environment">{d.environment ?? '—'}</span>
              </span>
              <span>
                <span className="paved-muted">Owners </span>
                <span className="paved-owners">{(d.owners ?? []).join(', ') || '—'}</span>
              </span>
              <span>
                <span className="paved-muted">Fresh </span>
                {d.freshness_state ? (
                  <FreshnessBadge freshness={d.freshness_state} />
                ) : (
                  <span className="paved-freshness">{formatAge(d.freshness)}</span>
                )}
              </span>
              {d.checks ? (
                <span>
                  <span className="paved-muted">Quality </span>
                  <ChecksBadge checks={d.checks} />
                </span>
              ) : null}
              <Tags tags={d.tags} />
            </div>
            {d.description ? <p className="paved-dataset-description">{d.description}</p> : null}
            {discoverOnly ? <RequestAccess namespace={m.namespace} name={m.name} /> : null}
            {access === 'own' ? <DatasetUsage namespace={m.namespace} name={m.name} /> : null}
            <div className="paved-actions" style={discoverOnly ? { display: 'none' } : undefined}>
              <button
                className="paved-button paved-insert-snippet"
                title="Reads through paved.data: your server's identity, and the read is recorded in lineage"
                onClick={() => void this.insert('paved')}
              >
                Insert snippet
              </button>
              <button
                className="paved-button paved-insert-duckdb"
                title="Plain DuckDB on the files: no lineage is recorded"
                onClick={() => void this.insert('duckdb')}
              >
                Plain DuckDB
              </button>
              <button className="paved-button paved-copy-path" onClick={() => this.copyPath()}>
                Copy path
              </button>
              <button className="paved-button paved-open-lineage" onClick={() => this._showLineage()}>
                Lineage
              </button>
            </div>
            {m.status ? <div className="paved-status">{m.status}</div> : null}
            {alerts.length > 0 ? (
              <div className="paved-alerts">
                {alerts.map((a, i) => (
                  <div key={i} className="paved-alert">
                    ⚠ {typeof a === 'string' ? a : (a.message ?? JSON.stringify(a))}
                  </div>
                ))}
              </div>
            ) : null}
          </>
        ) : null}
      </div>
    );
  }
}

class SchemaView extends ModelView {
  constructor(
    model: DatasetModel,
    private readonly _openLineage: (nodeId: string) => void
  ) {
    super(model);
    this.addClass('paved-dataset-tab');
    this.title.label = 'Schema';
  }

  protected render(): JSX.Element {
    const d = this.model.detail;
    if (!d) {
      return <div className="paved-muted">{this.model.detailError || 'Loading…'}</div>;
    }
    const job = jobId(d.producing_job);
    return (
      <div className="paved-dataset-schema">
        <table className="paved-table paved-schema">
          <thead>
            <tr>
              <th>Column</th>
              <th>Type</th>
              <th>Notes</th>
            </tr>
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
        <table className="paved-table paved-facts">
          <tbody>
            <tr>
              <th>Platform</th>
              <td>{d.platform ?? '—'}</td>
            </tr>
            <tr>
              <th>Rows</th>
              <td className="paved-row-count">{formatCount(d.row_count)}</td>
            </tr>
            <tr>
              <th>Size</th>
              <td>{formatBytes(d.size_bytes)}</td>
            </tr>
            <tr>
              <th>Modified</th>
              <td>{formatTime(d.last_modified)}</td>
            </tr>
            <tr>
              <th>Location</th>
              <td className="paved-location">{d.location ?? '—'}</td>
            </tr>
            <tr>
              <th>Produced by</th>
              <td>
                {job ? (
                  <button className="paved-link" onClick={() => this._openLineage(job.id)}>
                    {job.label}
                  </button>
                ) : (
                  '—'
                )}
                {d.last_run?.state ? ` · last run ${d.last_run.state}` : ''}
              </td>
            </tr>
          </tbody>
        </table>
      </div>
    );
  }
}

type SortOrder = { column: number; descending: boolean } | null;

/** Compare two cells: numbers as numbers, empty cells last, everything else as text. */
export function compareCells(a: unknown, b: unknown): number {
  const empty = (v: unknown) => v === null || v === undefined || v === '';
  if (empty(a) || empty(b)) {
    return empty(a) === empty(b) ? 0 : empty(a) ? 1 : -1;
  }
  if (typeof a === 'number' && typeof b === 'number') {
    return a - b;
  }
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

class PreviewView extends ModelView {
  private _sort: SortOrder = null;

  constructor(model: DatasetModel) {
    super(model);
    this.addClass('paved-dataset-tab');
    this.title.label = 'Preview';
  }

  private sortBy(column: number): void {
    const s = this._sort;
    this._sort =
      s && s.column === column
        ? s.descending
          ? null
          : { column, descending: true }
        : {
            column,
            descending: false
          };
    this.update();
  }

  protected render(): JSX.Element {
    const p = this.model.preview;
    if (!p) {
      return <div className="paved-muted">{this.model.previewError || 'Loading…'}</div>;
    }
    const s = this._sort;
    const rows = s
      ? [...p.rows].sort((x, y) => (s.descending ? -1 : 1) * compareCells(x[s.column], y[s.column]))
      : p.rows;
    const cell = (v: unknown): string =>
      v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return (
      <div className="paved-grid-scroll">
        <table className="paved-table paved-preview paved-grid">
          <thead>
            <tr>
              {p.columns.map((c, i) => (
                <th
                  key={c.name}
                  title={`${c.type ?? ''} — click to sort`}
                  data-column={c.name}
                  aria-sort={s?.column === i ? (s.descending ? 'descending' : 'ascending') : 'none'}
                  onClick={() => this.sortBy(i)}
                >
                  {c.name}
                  <span className="paved-sort-mark">{s?.column === i ? (s.descending ? ' ▼' : ' ▲') : ''}</span>
                  <div className="paved-muted paved-grid-type">{c.type ?? ''}</div>
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
        <div className="paved-muted paved-grid-count">
          {formatCount(p.rows.length)} rows shown
          {this.model.detail?.row_count ? ` of ${formatCount(this.model.detail.row_count)}` : ''}
        </div>
      </div>
    );
  }
}

type Row = Record<string, unknown>;

/** Requests and grants of this dataset from the catalog's access service, if the catalog has one. */
class AccessView extends ModelView {
  private _requests: Row[] | null = null;
  private _grants: Row[] | null = null;
  private _note = '';
  private _loaded = false;
  private _pending = true;

  constructor(model: DatasetModel) {
    super(model);
    this.addClass('paved-dataset-tab');
    this.title.label = 'Access';
  }

  protected onAfterShow(): void {
    if (!this._loaded) {
      this._loaded = true;
      void this.load();
    }
  }

  private async fetch(path: string, key: string): Promise<Row[] | null> {
    try {
      const answer = await api.catalogGet<Record<string, unknown>>(path);
      const list = answer[key];
      const mine = (r: Row) => r.namespace === this.model.namespace && r.name === this.model.name;
      return Array.isArray(list) ? (list as Row[]).filter(mine) : [];
    } catch (error) {
      if (error instanceof api.PavedError && error.status === 404) {
        return null; // a catalog without access requests
      }
      this._note = error instanceof Error ? error.message : String(error);
      return [];
    }
  }

  private async load(): Promise<void> {
    [this._requests, this._grants] = await Promise.all([
      this.fetch('api/catalog/v1/access-requests', 'requests'),
      this.fetch('api/catalog/v1/grants', 'grants')
    ]);
    this._pending = false;
    this.update();
  }

  private table(rows: Row[], columns: [string, string][], className: string): JSX.Element {
    if (rows.length === 0) {
      return <div className={`paved-muted ${className}`}>None.</div>;
    }
    return (
      <table className={`paved-table ${className}`}>
        <thead>
          <tr>
            {columns.map(([, label]) => (
              <th key={label}>{label}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={String(r.id ?? i)}>
              {columns.map(([key]) => (
                <td key={key}>{r[key] === undefined || r[key] === null ? '—' : String(r[key])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    );
  }

  protected render(): JSX.Element {
    if (this._pending) {
      return <div className="paved-muted">Loading…</div>;
    }
    if (this._requests === null && this._grants === null) {
      return (
        <div className="paved-access paved-muted paved-access-unavailable">
          {"This catalog has no access requests yet: who may read this dataset is its project's members."}
        </div>
      );
    }
    return (
      <div className="paved-access">
        {this._note ? <div className="paved-error">{this._note}</div> : null}
        <h4>Requests</h4>
        {this.table(
          this._requests ?? [],
          [
            ['requester', 'Requested by'],
            ['project', 'For project'],
            ['environment', 'Environment'],
            ['access', 'Access'],
            ['status', 'Status'],
            ['reason', 'Reason']
          ],
          'paved-access-requests'
        )}
        <h4>Grants</h4>
        {this.table(
          this._grants ?? [],
          [
            ['project', 'Project'],
            ['environment', 'Environment'],
            ['access', 'Access'],
            ['expires_at', 'Until']
          ],
          'paved-access-grants'
        )}
      </div>
    );
  }
}

const QUALITY_RUNS = 30; // the newest runs drawn; older ones stay in the catalog's answer
const CELL = 18;
const LABEL_WIDTH = 220;

/** "not_null(price)": an assertion with its column (unless its name says it already, as Paved's checks do),
 * as the run page and the badges name it. */
function assertionLabel(a: QualityRun['assertions'][number]): string {
  return a.column && !a.assertion.includes(`(${a.column}`) ? `${a.assertion}(${a.column})` : a.assertion;
}

/** A run's column head: `passed`, `warned` (only `warn` checks failed: the run went on, as the catalog's badge
 * says) or `failed`. */
export function runState(run: QualityRun): 'passed' | 'warned' | 'failed' {
  if (run.success) {
    return 'passed';
  }
  return run.assertions.every(a => a.success || a.severity === 'warn') ? 'warned' : 'failed';
}

/**
 * The dataset's check history drawn as a grid: one column per run (oldest left), one row per check; green
 * passed, red failed, amber a failed `warn` check, blank not run. Above it the freshness promise.
 */
class QualityView extends ModelView {
  constructor(model: DatasetModel) {
    super(model);
    this.addClass('paved-dataset-tab');
    this.addClass('paved-quality');
    this.title.label = 'Quality';
  }

  protected render(): JSX.Element {
    const d = this.model.detail;
    if (!d) {
      return <div className="paved-muted">{this.model.detailError || 'Loading…'}</div>;
    }
    const runs = (d.quality ?? []).slice(0, QUALITY_RUNS).reverse();
    const rows: string[] = [];
    for (const run of runs) {
      for (const a of run.assertions) {
        if (!rows.includes(assertionLabel(a))) {
          rows.push(assertionLabel(a));
        }
      }
    }
    const f = d.freshness_state;
    const width = LABEL_WIDTH + runs.length * CELL + 8;
    const height = 28 + rows.length * CELL + 8;
    return (
      <div className="paved-quality-body">
        <div className="paved-quality-freshness">
          <span className="paved-muted">Freshness </span>
          <FreshnessBadge freshness={f} />
          <span className="paved-muted"> {f ? describeTarget(f.target) : ''}</span>
        </div>
        {runs.length === 0 ? (
          <div className="paved-muted">No quality checks were reported for this dataset.</div>
        ) : (
          <svg
            className="paved-quality-grid"
            width={width}
            height={height}
            role="img"
            aria-label={`Quality checks of the last ${runs.length} runs`}
          >
            {runs.map((run, i) => (
              <rect
                key={`run-${i}`}
                className={`paved-quality-run paved-quality-run--${runState(run)}`}
                x={LABEL_WIDTH + i * CELL + 1}
                y={4}
                width={CELL - 2}
                height={16}
                rx={3}
              >
                <title>{`${formatTime(run.event_time)} · ${run.event_type ?? ''} · ${runState(run)}`}</title>
              </rect>
            ))}
            {rows.map((label, r) => (
              <g key={label} className="paved-quality-row" data-check={label}>
                <text className="paved-quality-label" x={LABEL_WIDTH - 8} y={28 + r * CELL + 13}>
                  {label}
                </text>
                {runs.map((run, i) => {
                  const a = run.assertions.find(x => assertionLabel(x) === label);
                  const state = !a ? 'none' : a.success ? 'passed' : a.severity === 'warn' ? 'warned' : 'failed';
                  return (
                    <rect
                      key={i}
                      className={`paved-quality-cell paved-quality-cell--${state}`}
                      data-state={state}
                      x={LABEL_WIDTH + i * CELL + 1}
                      y={28 + r * CELL + 1}
                      width={CELL - 2}
                      height={CELL - 2}
                      rx={2}
                    >
                      <title>{`${label}: ${state} (${formatTime(run.event_time)})`}</title>
                    </rect>
                  );
                })}
              </g>
            ))}
          </svg>
        )}
      </div>
    );
  }
}

let opened = 0;

/**
 * The main-area content of one dataset: the header over the tab panel. `openDataset` is what the lineage
 * graph's "Open in catalog" does (another dataset tab).
 */
export class DatasetPanel extends Panel {
  readonly model: DatasetModel;
  readonly tabs: TabPanel;
  private _lineage: LineageWidget;

  constructor(namespace: string, name: string, actions: DatasetActions) {
    // a column laid out by CSS (base.css): the header takes its height, the tabs the rest
    super();
    this.addClass('paved-dataset-panel');
    this.model = new DatasetModel(namespace, name);
    this.title.label = api.displayName(name);
    this.title.caption = `${namespace}:${name}`;
    this.title.closable = true;

    const header = new Header(this.model, actions, () => this.showTab('Lineage'));
    this.tabs = new TabPanel();
    this.tabs.addClass('paved-dataset-tabs');
    this._lineage = new LineageWidget(actions.openDataset);
    // one lineage graph per open dataset; the standalone Lineage view keeps the id 'paved-lineage'
    this._lineage.id = `paved-dataset-lineage-${++opened}`;
    this._lineage.title.label = 'Lineage';
    this._lineage.title.closable = false;
    const schema = new SchemaView(this.model, nodeId => {
      this.tabs.currentWidget = this._lineage;
      this._lineage.focusOn(nodeId);
    });
    const views = [
      schema,
      new PreviewView(this.model),
      new QualityView(this.model),
      this._lineage,
      new AccessView(this.model)
    ];
    for (const w of views as Widget[]) {
      this.tabs.addWidget(w);
    }
    this.tabs.currentChanged.connect((_, change) => {
      // the graph is asked for when its tab is first shown, not for every dataset opened
      if (change.currentWidget === this._lineage && !this._lineage.center) {
        this._lineage.focusOn(this.model.nodeId);
      }
    });
    this.model.listeners.push(() => {
      this.title.label = api.displayName(name, this.model.detail?.title);
    });
    this.addWidget(header);
    this.addWidget(this.tabs);
    void this.model.load();
  }

  /** Show one of the tabs by its label (Schema, Preview, Quality, Lineage, Access; the graph's reads "Lineage: <centre>"). */
  showTab(label: string): void {
    const w = this.tabs.widgets.find(t => t.title.label.startsWith(label));
    if (w) {
      this.tabs.currentWidget = w;
    }
  }
}
