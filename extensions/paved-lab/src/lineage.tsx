/**
 * The Lineage view: a drawn graph (SVG) around one dataset or job, with an
 * upstream / both / downstream toggle and a depth control starting at 1.
 * Clicking a node makes it the centre; nodes the user may not see are locked stubs.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { PavedError, displayName, lineage, parseNodeId } from './api';
import { ColumnLineageView } from './columns';
import { GraphLayout, layoutGraph, NODE_HEIGHT, NODE_WIDTH, PlacedNode } from './layout';
import { Direction, LineageNode } from './types';

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

function NodeShape(props: { node: PlacedNode; onOpen: (id: string) => void }): JSX.Element {
  const { node, onOpen } = props;
  const kind = node.type === 'JOB' ? 'job' : 'dataset';
  const classes = [
    'paved-lineage-node',
    `paved-lineage-node--${kind}`,
    node.locked ? 'paved-lineage-node--locked' : '',
    node.center ? 'paved-lineage-node--center' : ''
  ]
    .filter(Boolean)
    .join(' ');
  const title = node.locked
    ? 'Restricted: belongs to a project you are not a member of'
    : `${kind}: ${node.namespace}:${node.fullName}`;
  const open = () => {
    if (!node.locked && !node.center) {
      onOpen(node.id);
    }
  };
  return (
    <g
      className={classes}
      data-id={node.id}
      data-type={node.type}
      transform={`translate(${node.x} ${node.y})`}
      onClick={open}
      role={node.locked ? undefined : 'button'}
    >
      <title>{title}</title>
      <rect width={NODE_WIDTH} height={NODE_HEIGHT} rx={kind === 'job' ? 2 : 10} />
      <text className="paved-lineage-kind" x={10} y={16}>
        {node.locked ? 'LOCKED' : kind.toUpperCase()}
      </text>
      <text className="paved-lineage-label" x={10} y={35}>
        {truncate(node.label, 26)}
      </text>
      {node.locked ? <Lock x={NODE_WIDTH - 24} y={14} /> : null}
    </g>
  );
}

export function LineageGraph(props: {
  layout: GraphLayout;
  onOpen: (id: string) => void;
}): JSX.Element {
  const { layout, onOpen } = props;
  return (
    <svg
      className="paved-lineage-svg"
      width={layout.width}
      height={layout.height}
      viewBox={`0 0 ${layout.width} ${layout.height}`}
      // Shrink wide graphs to the view, but not below 60% (labels stay readable; the canvas scrolls).
      style={{ maxWidth: '100%', height: 'auto', minWidth: `${Math.round(layout.width * 0.6)}px` }}
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
      <g className="paved-lineage-edges">
        {layout.edges.map(e => (
          <path
            key={`${e.origin}->${e.destination}`}
            className="paved-lineage-edge"
            data-origin={e.origin}
            data-destination={e.destination}
            d={e.path}
            markerEnd="url(#paved-lineage-arrow)"
          />
        ))}
      </g>
      <g className="paved-lineage-nodes">
        {layout.nodes.map(n => (
          <NodeShape key={n.id} node={n} onOpen={onOpen} />
        ))}
      </g>
    </svg>
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
    const layout = layoutGraph(this._graph, this._center);
    const centerNode = this._graph.find(n => n.id === this._center);
    const parsed = parseNodeId(this._center);
    const centerName =
      (typeof centerNode?.data?.name === 'string' ? centerNode.data.name : parsed?.name) ?? '';
    const centerNs =
      (typeof centerNode?.data?.namespace === 'string'
        ? centerNode.data.namespace
        : parsed?.namespace) ?? '';
    const isDataset = this._center.startsWith('dataset:');
    return (
      <div className="paved-lineage-body">
        <div className="paved-lineage-toolbar">
          <span className="paved-lineage-title" title={this._center}>
            {isDataset ? 'Dataset' : 'Job'}{' '}
            <strong>{displayName(centerName, centerNode?.data?.title)}</strong>
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
            <LineageGraph layout={layout} onOpen={id => this.setCenter(id)} />
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
          <span className="paved-muted">Click a node to centre the graph on it.</span>
        </div>
      </div>
    );
  }
}
