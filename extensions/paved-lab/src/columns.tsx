/**
 * The column view of the lineage graph: pick a column of the centre dataset and see where it comes from and
 * where it goes, from `GET api/v1/column-lineage?nodeId=datasetField:<ns>:<name>:<field>&depth=&withDownstream=`
 * (Marquez's endpoint and answer shape: DATASET_FIELD nodes, edges from input column to output column).
 */
import * as React from 'react';

import { PavedError, columnLineage, dataset, displayName } from './api';
import { ColumnLineageNode } from './types';

export function columnNodeId(namespace: string, name: string, field: string): string {
  return `datasetField:${namespace}:${name}:${field}`;
}

export interface ColumnHop {
  node: ColumnLineageNode;
  /** 1 = a direct input (upstream) or a direct output (downstream) of the picked column. */
  distance: number;
  /** How the column on the picked column's side was made from this one (upstream), or how this one was made. */
  transformation: string;
}

function transformationText(type?: string | null, description?: string | null): string {
  return [type, description].filter(t => typeof t === 'string' && t).join(': ');
}

/** Columns upstream and downstream of `pickedId` in `graph`, nearest first (breadth-first along the edges). */
export function columnNeighbours(
  graph: ColumnLineageNode[],
  pickedId: string
): { upstream: ColumnHop[]; downstream: ColumnHop[] } {
  const byId = new Map(graph.map(n => [n.id, n]));
  const walk = (direction: 'up' | 'down'): ColumnHop[] => {
    const hops: ColumnHop[] = [];
    const seen = new Set([pickedId]);
    let frontier = [pickedId];
    for (let distance = 1; frontier.length; distance++) {
      const next: string[] = [];
      for (const id of frontier) {
        const node = byId.get(id);
        const edges = node ? ((direction === 'up' ? node.inEdges : node.outEdges) ?? []) : [];
        for (const e of edges) {
          const other = direction === 'up' ? e.origin : e.destination;
          const otherNode = byId.get(other);
          if (seen.has(other) || !otherNode) {
            continue;
          }
          seen.add(other);
          next.push(other);
          // the transformation is recorded on the output column, per input
          const output = direction === 'up' ? node : otherNode;
          const input = direction === 'up' ? otherNode : node;
          const inputField = output?.data?.inputFields?.find(
            f =>
              input?.data &&
              f.namespace === input.data.namespace &&
              f.dataset === input.data.dataset &&
              f.field === input.data.field
          );
          hops.push({
            node: otherNode,
            distance,
            transformation: transformationText(
              inputField?.transformationType ?? output?.data?.transformationType,
              inputField?.transformationDescription ?? output?.data?.transformationDescription
            )
          });
        }
      }
      frontier = next;
    }
    return hops;
  };
  return { upstream: walk('up'), downstream: walk('down') };
}

function Hop(props: { hop: ColumnHop }): JSX.Element {
  const d = props.hop.node.data;
  return (
    <li className="paved-column-hop" data-id={props.hop.node.id} data-distance={props.hop.distance}>
      <span className="paved-column-dataset" title={d ? `${d.namespace}:${d.dataset}` : ''}>
        {d ? displayName(d.dataset) : props.hop.node.id}
      </span>
      .<strong className="paved-column-field">{d?.field ?? ''}</strong>
      {props.hop.transformation ? (
        <span className="paved-muted paved-column-transformation"> ({props.hop.transformation})</span>
      ) : null}
    </li>
  );
}

/** Pick a column of dataset `namespace`/`name`; its upstream and downstream columns, `depth` hops at most. */
export function ColumnLineageView(props: { namespace: string; name: string; depth: number }): JSX.Element {
  const { namespace, name, depth } = props;
  const [fields, setFields] = React.useState<string[]>([]);
  const [picked, setPicked] = React.useState('');
  const [graph, setGraph] = React.useState<ColumnLineageNode[]>([]);
  const [error, setError] = React.useState('');

  React.useEffect(() => {
    let live = true;
    setFields([]);
    setPicked('');
    setGraph([]);
    dataset(namespace, name)
      .then(d => live && setFields((d.fields ?? []).map(f => f.name)))
      .catch(() => live && setFields([]));
    return () => {
      live = false;
    };
  }, [namespace, name]);

  React.useEffect(() => {
    if (!picked) {
      return;
    }
    let live = true;
    setError('');
    columnLineage(columnNodeId(namespace, name, picked), depth, true)
      .then(answer => live && setGraph(Array.isArray(answer.graph) ? answer.graph : []))
      .catch(e => {
        if (live) {
          setGraph([]);
          setError(e instanceof PavedError ? e.message : String(e));
        }
      });
    return () => {
      live = false;
    };
  }, [namespace, name, picked, depth]);

  if (!fields.length) {
    return <div className="paved-columns paved-muted">No columns known for this dataset.</div>;
  }
  const { upstream, downstream } = columnNeighbours(graph, columnNodeId(namespace, name, picked));
  return (
    <div className="paved-columns">
      <label className="paved-columns-label">
        Column{' '}
        <select className="paved-columns-pick" value={picked} onChange={e => setPicked(e.currentTarget.value)}>
          <option value="">pick a column…</option>
          {fields.map(f => (
            <option key={f} value={f}>
              {f}
            </option>
          ))}
        </select>
      </label>
      {error ? <div className="paved-error">{error}</div> : null}
      {picked && !error ? (
        <div className="paved-columns-flow">
          <div className="paved-columns-upstream">
            <h4>Comes from</h4>
            {upstream.length ? (
              <ol>
                {upstream.map(h => (
                  <Hop key={h.node.id} hop={h} />
                ))}
              </ol>
            ) : (
              <span className="paved-muted">no recorded inputs</span>
            )}
          </div>
          <div className="paved-columns-picked">
            <h4>Column</h4>
            <strong>{picked}</strong>
          </div>
          <div className="paved-columns-downstream">
            <h4>Goes to</h4>
            {downstream.length ? (
              <ol>
                {downstream.map(h => (
                  <Hop key={h.node.id} hop={h} />
                ))}
              </ol>
            ) : (
              <span className="paved-muted">no recorded outputs</span>
            )}
          </div>
        </div>
      ) : null}
    </div>
  );
}
