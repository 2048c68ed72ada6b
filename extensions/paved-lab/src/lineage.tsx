/**
 * The Lineage view: a drawn graph (SVG, laid out by dagre) around one dataset or job, with an
 * upstream / both / downstream toggle and a depth control starting at 1; pan (drag), zoom (wheel or
 * buttons) and fit-to-view. Clicking a node traces its path to the centre; double-clicking makes it the
 * centre; a folded fan-out ("30 datasets") expands on click. Nodes the user may not see are locked stubs.
 * Each dataset the user may see is coloured by its freshness (green fresh, red late, grey unknown) and carries
 * a badge of its latest checks (✓ / ! / ✕), from what the catalog answers on the node.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { PavedError, displayName, lineage, parseNodeId } from './api';
import { collapseFanOuts, fanOutParent, tracePath } from './collapse';
import { ColumnLineageView } from './columns';
import { GraphLayout, layoutGraph, NODE_HEIGHT, NODE_WIDTH, PlacedNode } from './layout';
import { fitView, initialView } from './viewport';
import { freshnessText } from './catalog';
import { CheckStatus, Direction, FreshnessState, LineageNode } from './types';

/** What the catalog says about a dataset node's promises (absent on jobs and locked stubs). */
export interface NodeStatus {
  freshness?: FreshnessState | null;
  checks?: CheckStatus | null;
  lastModifiedAt?: string | null;
}

/** Node id -> its freshness and latest checks, from the catalog's lineage answer. */
export function nodeStatuses(graph: LineageNode[]): Map<string, NodeStatus> {
  const out = new Map<string, NodeStatus>();
  for (const n of graph) {
    const data = n.data as (NodeStatus & { locked?: boolean }) | null;
    if (n.type === 'DATASET' && data && !data.locked && (data.freshness || data.checks)) {
      out.set(n.id, {
        freshness: data.freshness ?? null,
        checks: data.checks ?? null,
        lastModifiedAt: data.lastModifiedAt ?? null
      });
    }
  }
  return out;
}

const CHECK_MARK: Record<string, string> = { passed: '✓', warned: '!', failed: '✕' };

/** The freshness pill and the checks mark drawn at the top right of a dataset node (clear of its label). */
function StatusBadge(props: { status: NodeStatus }): JSX.Element {
  const { freshness, checks, lastModifiedAt } = props.status;
  const text = freshness ? freshnessText(freshness, lastModifiedAt) : '';
  const pill = Math.max(34, text.length * 6 + 16);
  const right = NODE_WIDTH - 6;
  return (
    <g className="paved-lineage-status">
      {freshness ? (
        <g
          className={`paved-lineage-fresh paved-lineage-fresh--${freshness.state}`}
          data-state={freshness.state}
          transform={`translate(${right - pill - (checks ? 20 : 0)} 5)`}
        >
          <rect width={pill} height={13} rx={6.5} />
          <text x={pill / 2} y={10}>
            {text}
          </text>
        </g>
      ) : null}
      {checks ? (
        <g
          className={`paved-lineage-checks paved-lineage-checks--${checks.status}`}
          data-status={checks.status}
          transform={`translate(${right - 16} 5)`}
        >
          <circle cx={8} cy={6.5} r={7} />
          <text x={8} y={10}>
            {CHECK_MARK[checks.status] ?? '?'}
          </text>
        </g>
      ) : null}
    </g>
  );
}

export const MAX_DEPTH = 20;
const DIRECTIONS: Direction[] = ['upstream', 'both', 'downstream'];

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}\u2026` : text;
}

/** A padlock drawn with SVG shapes (no icon font needed). */
function Lock(props: { x: number; y: number }): JSX.Element {
  return (
    <g className="paved-lineage-lock" transform={`translate(${props.x} ${props.y})`}>
      <path d="M 3 7 V 5 a 4 4 0 0 1 8 0 V 7" fill="none" strokeWidth={1.6} />
      <rect x={1} y={7} width={12} height={9} rx={1.5} />
    </g>
  );
}

interface NodeActions {
  onOpen: (id: string) => void;
  onSelect: (id: string) => void;
  onExpand: (id: string) => void;
}

function NodeShape(props: { node: PlacedNode; onPath: boolean; status?: NodeStatus } & NodeActions): JSX.Element {
  const { node, onOpen, onSelect, onExpand, onPath, status } = props;
  const fresh = status?.freshness?.state;
  const kind = node.type === 'JOB' ? 'job' : 'dataset';
  const classes = [
    'paved-lineage-node',
    `paved-lineage-node--${kind}`,
    node.locked ? 'paved-lineage-node--locked' : '',
    node.center ? 'paved-lineage-node--center' : '',
    node.collapsed ? 'paved-lineage-node--collapsed' : '',
    onPath ? 'paved-lineage-node--path' : '',
    fresh ? `paved-lineage-node--${fresh}` : '',
    status?.checks?.status === 'failed' ? 'paved-lineage-node--check-failed' : ''
  ]
    .filter(Boolean)
    .join(' ');
  const title = node.locked
    ? 'Restricted: belongs to a project you are not a member of'
    : node.collapsed
      ? `${node.label}, folded: click to show them`
      : `${kind}: ${node.namespace}:${node.fullName}${
          status?.freshness ? ` · ${freshnessText(status.freshness, status.lastModifiedAt)}` : ''
        }${status?.checks ? ` · checks ${status.checks.status}` : ''} (click: path to the centre; double-click: centre here)`;
  const click = () => {
    if (node.collapsed) {
      onExpand(node.id);
    } else if (!node.locked) {
      onSelect(node.id);
    }
  };
  const open = () => {
    if (!node.locked && !node.center && !node.collapsed) {
      onOpen(node.id);
    }
  };
  return (
    <g
      className={classes}
      data-id={node.id}
      data-type={node.type}
      transform={`translate(${node.x} ${node.y})`}
      onClick={click}
      onDoubleClick={open}
      role={node.locked ? undefined : 'button'}
    >
      <title>{title}</title>
      <rect width={NODE_WIDTH} height={NODE_HEIGHT} rx={kind === 'job' ? 2 : 10} />
      <text className="paved-lineage-kind" x={10} y={16}>
        {node.locked ? 'LOCKED' : node.collapsed ? `${kind.toUpperCase()}S \u00b7 FOLDED` : kind.toUpperCase()}
      </text>
      <text className="paved-lineage-label" x={10} y={35}>
        {truncate(node.label, 26)}
      </text>
      {node.locked ? <Lock x={NODE_WIDTH - 24} y={14} /> : null}
      {status && !node.locked ? <StatusBadge status={status} /> : null}
    </g>
  );
}

const MIN_ZOOM = 0.1;
const MAX_ZOOM = 3;

/**
 * The drawn graph with pan (drag the background), zoom (wheel, buttons) and "Fit all". It opens fitted when
 * its labels stay readable, else on `focusId` at the smallest readable zoom (see viewport.ts).
 */
export function LineageGraph(
  props: {
    layout: GraphLayout;
    selected: string;
    centerId: string;
    /** The node the first view is centred on when the whole graph is too big to read (default: the centre). */
    focusId?: string;
    /** Freshness and checks per dataset node id (see nodeStatuses). */
    statuses?: Map<string, NodeStatus>;
  } & NodeActions
): JSX.Element {
  const { layout, selected, centerId } = props;
  const box = React.useRef<HTMLDivElement>(null);
  const [view, setView] = React.useState({ k: 1, x: 0, y: 0, fitted: true });
  const drag = React.useRef<{ x: number; y: number; vx: number; vy: number } | null>(null);
  const size = () => ({ w: box.current?.clientWidth || 800, h: box.current?.clientHeight || 500 });
  const fit = () => {
    const { w, h } = size();
    setView({ ...fitView(layout, w, h, MIN_ZOOM), fitted: true });
  };
  const focusId = props.focusId || centerId;
  // A new graph (another centre, depth, direction, or a fan-out expanded) gets a new first view; selecting a
  // node re-renders with an equal layout and keeps the user's pan and zoom.
  const shape = `${layout.nodes.length}:${layout.width}x${layout.height}:${focusId}`;
  React.useLayoutEffect(() => {
    const { w, h } = size();
    setView(initialView(layout, w, h, focusId));
  }, [shape]); // eslint-disable-line react-hooks/exhaustive-deps

  const zoomBy = (factor: number, cx?: number, cy?: number) => {
    setView(v => {
      const el = box.current;
      const px = cx ?? (el?.clientWidth ?? 0) / 2;
      const py = cy ?? (el?.clientHeight ?? 0) / 2;
      const k = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, v.k * factor));
      // keep the point under the cursor where it is
      return { k, x: px - ((px - v.x) * k) / v.k, y: py - ((py - v.y) * k) / v.k, fitted: false };
    });
  };
  const path = React.useMemo(
    () =>
      selected ? tracePath(layout.edges, centerId, selected) : { nodes: new Set<string>(), edges: new Set<string>() },
    [layout, selected, centerId]
  );
  return (
    <div className="paved-lineage-viewport" ref={box}>
      <div className="paved-lineage-zoom" role="group" aria-label="Zoom">
        <button className="paved-button paved-lineage-zoom-in" aria-label="Zoom in" onClick={() => zoomBy(1.25)}>
          +
        </button>
        <button className="paved-button paved-lineage-zoom-out" aria-label="Zoom out" onClick={() => zoomBy(0.8)}>
          {'\u2212'}
        </button>
        <button
          className="paved-button paved-lineage-fit"
          onClick={fit}
          title="Fit the whole graph in view (labels may get small)"
        >
          Fit all
        </button>
      </div>
      <svg
        className="paved-lineage-svg"
        data-zoom={view.k.toFixed(3)}
        data-fitted={view.fitted ? 'true' : 'false'}
        onWheel={e => {
          const r = e.currentTarget.getBoundingClientRect();
          zoomBy(e.deltaY < 0 ? 1.1 : 1 / 1.1, e.clientX - r.left, e.clientY - r.top);
        }}
        onPointerDown={e => {
          if ((e.target as Element).closest('.paved-lineage-node')) {
            return;
          }
          drag.current = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y };
        }}
        onPointerMove={e => {
          const d = drag.current;
          if (d) {
            setView(v => ({ ...v, x: d.vx + e.clientX - d.x, y: d.vy + e.clientY - d.y }));
          }
        }}
        onPointerUp={() => (drag.current = null)}
        onPointerLeave={() => (drag.current = null)}
      >
        <defs>
          <marker
            id="paved-lineage-arrow"
            viewBox="0 0 10 10"
            refX={10}
            refY={5}
            markerWidth={8}
            markerHeight={8}
            orient="auto-start-reverse"
          >
            <path d="M 0 0 L 10 5 L 0 10 z" className="paved-lineage-arrowhead" />
          </marker>
        </defs>
        <g className="paved-lineage-scene" transform={`translate(${view.x} ${view.y}) scale(${view.k})`}>
          <g className="paved-lineage-edges">
            {layout.edges.map(e => {
              const key = `${e.origin}->${e.destination}`;
              return (
                <path
                  key={key}
                  className={`paved-lineage-edge${path.edges.has(key) ? ' paved-lineage-edge--path' : ''}`}
                  data-origin={e.origin}
                  data-destination={e.destination}
                  d={e.path}
                  markerEnd="url(#paved-lineage-arrow)"
                />
              );
            })}
          </g>
          <g className="paved-lineage-nodes">
            {layout.nodes.map(n => (
              <NodeShape
                key={n.id}
                node={n}
                onPath={path.nodes.has(n.id)}
                status={props.statuses?.get(n.id)}
                onOpen={props.onOpen}
                onSelect={props.onSelect}
                onExpand={props.onExpand}
              />
            ))}
          </g>
        </g>
      </svg>
    </div>
  );
}

/** Main-area widget holding the lineage state; one instance is reused for every graph. */
export class LineageWidget extends ReactWidget {
  private _center = '';
  private _direction: Direction = 'both';
  private _depth = 1;
  private _graph: LineageNode[] = [];
  private _error = '';
  private _loading = false;
  private _request = 0;
  private _expanded = new Set<string>();
  private _selected = '';
  /** The parent of the fan-out expanded last: the first view after an expansion is centred on it. */
  private _focus = '';

  constructor(private readonly _openDataset: (namespace: string, name: string) => void) {
    super();
    this.addClass('paved-lineage');
    this.id = 'paved-lineage';
    this.title.label = 'Lineage';
    this.title.closable = true;
  }

  get center(): string {
    return this._center;
  }

  /** Centre the graph on a node (`dataset:<ns>:<name>` or `job:<ns>:<name>`), depth back to 1. */
  focusOn(nodeId: string): void {
    this._center = nodeId;
    this._depth = 1;
    void this.load();
  }

  private setCenter(nodeId: string): void {
    this._center = nodeId;
    void this.load();
  }

  private setDirection(direction: Direction): void {
    this._direction = direction;
    void this.load();
  }

  private setDepth(depth: number): void {
    if (!Number.isFinite(depth)) {
      return;
    }
    this._depth = Math.min(MAX_DEPTH, Math.max(1, Math.round(depth)));
    void this.load();
  }

  private async load(): Promise<void> {
    if (!this._center) {
      return;
    }
    this._expanded = new Set();
    this._selected = '';
    this._focus = '';
    const request = ++this._request;
    this._loading = true;
    this._error = '';
    const parsed = parseNodeId(this._center);
    this.title.label = `Lineage: ${parsed ? displayName(parsed.name) : this._center}`;
    this.update();
    try {
      const answer = await lineage(this._center, this._depth, this._direction);
      if (request !== this._request) {
        return; // a newer request superseded this one
      }
      this._graph = Array.isArray(answer.graph) ? answer.graph : [];
      const center = this._graph.find(n => n.id === this._center);
      if (center && typeof center.data?.name === 'string') {
        this.title.label = `Lineage: ${displayName(center.data.name, center.data.title)}`;
      }
    } catch (error) {
      if (request !== this._request) {
        return;
      }
      this._graph = [];
      this._error = error instanceof PavedError ? error.message : String(error);
    }
    this._loading = false;
    this.update();
  }

  protected render(): JSX.Element {
    const shown = collapseFanOuts(this._graph, this._center, this._expanded);
    const layout = layoutGraph(shown, this._center);
    const centerNode = this._graph.find(n => n.id === this._center);
    const parsed = parseNodeId(this._center);
    const centerName = (typeof centerNode?.data?.name === 'string' ? centerNode.data.name : parsed?.name) ?? '';
    const centerNs =
      (typeof centerNode?.data?.namespace === 'string' ? centerNode.data.namespace : parsed?.namespace) ?? '';
    const isDataset = this._center.startsWith('dataset:');
    return (
      <div className="paved-lineage-body">
        <div className="paved-lineage-toolbar">
          <span className="paved-lineage-title" title={this._center}>
            {isDataset ? 'Dataset' : 'Job'} <strong>{displayName(centerName, centerNode?.data?.title)}</strong>
          </span>
          <span className="paved-lineage-directions" role="group" aria-label="Direction">
            {DIRECTIONS.map(d => (
              <button
                key={d}
                className={`paved-button paved-lineage-direction${
                  d === this._direction ? ' paved-button--active' : ''
                }`}
                data-direction={d}
                aria-pressed={d === this._direction}
                onClick={() => this.setDirection(d)}
              >
                {d === 'upstream' ? '\u2190 Upstream' : d === 'downstream' ? 'Downstream \u2192' : 'Both'}
              </button>
            ))}
          </span>
          <span className="paved-lineage-depth">
            <label htmlFor="paved-lineage-depth-input">Depth</label>
            <button
              className="paved-button paved-lineage-depth-down"
              disabled={this._depth <= 1}
              onClick={() => this.setDepth(this._depth - 1)}
              aria-label="Less depth"
            >
              {'\u2212'}
            </button>
            <input
              id="paved-lineage-depth-input"
              className="paved-lineage-depth-input"
              type="number"
              min={1}
              max={MAX_DEPTH}
              value={this._depth}
              onChange={e => this.setDepth(Number(e.currentTarget.value))}
            />
            <button
              className="paved-button paved-lineage-depth-up"
              disabled={this._depth >= MAX_DEPTH}
              onClick={() => this.setDepth(this._depth + 1)}
              aria-label="More depth"
            >
              +
            </button>
          </span>
          {isDataset && centerName ? (
            <button
              className="paved-button paved-lineage-open-dataset"
              onClick={() => this._openDataset(centerNs, centerName)}
            >
              Open in catalog
            </button>
          ) : null}
          {this._loading ? <span className="paved-muted">Loading…</span> : null}
        </div>
        {this._error ? <div className="paved-error">{this._error}</div> : null}
        <div className="paved-lineage-canvas">
          {this._graph.length > 0 ? (
            <LineageGraph
              layout={layout}
              centerId={this._center}
              selected={this._selected}
              focusId={this._focus || this._center}
              statuses={nodeStatuses(this._graph)}
              onOpen={id => this.setCenter(id)}
              onSelect={id => {
                this._selected = id;
                this.update();
              }}
              onExpand={id => {
                this._expanded.add(id);
                this._focus = fanOutParent(id);
                this.update();
              }}
            />
          ) : !this._loading && !this._error ? (
            <div className="paved-muted">No lineage recorded for this node.</div>
          ) : null}
        </div>
        {isDataset && centerName ? (
          <ColumnLineageView namespace={centerNs} name={centerName} depth={this._depth} />
        ) : null}
        <div className="paved-lineage-legend">
          <span className="paved-legend paved-legend--dataset">dataset</span>
          <span className="paved-legend paved-legend--job">job</span>
          <span className="paved-legend paved-legend--locked">restricted (another project)</span>
          <span className="paved-legend paved-legend--collapsed">folded fan-out (click to expand)</span>
          <span className="paved-legend paved-legend--fresh">fresh</span>
          <span className="paved-legend paved-legend--late">late</span>
          <span className="paved-legend paved-legend--check-failed">checks failed</span>
          <span className="paved-muted">
            {shown.length} of {this._graph.length} nodes shown · click: path to the centre · double-click: centre here ·
            drag to pan, wheel to zoom
          </span>
        </div>
      </div>
    );
  }
}
