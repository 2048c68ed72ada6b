/**
 * Data access in the catalog panel (issue 17): "Request access" on a dataset another project owns, and a
 * Requests view where owner admins approve or deny and requesters see decisions. Kept apart from
 * catalog.tsx, which only mounts these components.
 */
import * as React from 'react';

import * as api from './api';
import { AccessRequest, AuditEntry, Grant, Purpose } from './types';

export type { AccessRequest, Purpose } from './types';

function message(error: unknown): string {
  return error instanceof api.PavedError ? error.message : String(error);
}

/** The "Request access" form of a dataset the caller may only discover. */
export function RequestAccess(props: { namespace: string; name: string }): JSX.Element {
  const [purposes, setPurposes] = React.useState<Purpose[]>([]);
  const [purpose, setPurpose] = React.useState('');
  const [access, setAccess] = React.useState<'read' | 'write'>('read');
  const [days, setDays] = React.useState(90);
  const [reason, setReason] = React.useState('');
  const [status, setStatus] = React.useState('');
  const [error, setError] = React.useState('');
  React.useEffect(() => {
    api
      .accessPurposes()
      .then(r => {
        setPurposes(r.purposes);
        if (r.purposes.length) {
          setPurpose(`${r.purposes[0].project}/${r.purposes[0].environment}`);
        }
      })
      .catch(e => setError(message(e)));
  }, []);
  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    setError('');
    const [project, environment] = purpose.split('/');
    try {
      const created = await api.requestAccess({
        namespace: props.namespace,
        name: props.name,
        project,
        environment,
        access,
        days,
        reason
      });
      setStatus(`Requested (${created.id}): the owners of ${created.owner_project} decide.`);
    } catch (e) {
      setError(message(e));
    }
  };
  return (
    <form className="paved-request-access" onSubmit={e => void submit(e)}>
      <h4>Request access</h4>
      <p className="paved-muted">{"You can see this dataset's description and schema; its data needs a grant."}</p>
      <label>
        For
        <select className="paved-request-purpose" value={purpose} onChange={e => setPurpose(e.target.value)}>
          {purposes.map(p => (
            <option key={`${p.project}/${p.environment}`} value={`${p.project}/${p.environment}`}>
              {p.project}/{p.environment}
            </option>
          ))}
        </select>
      </label>
      <label>
        Access
        <select
          className="paved-request-kind"
          value={access}
          onChange={e => setAccess(e.target.value as 'read' | 'write')}
        >
          <option value="read">read</option>
          <option value="write">read-write</option>
        </select>
      </label>
      <label>
        Days
        <input
          className="paved-request-days"
          type="number"
          min={1}
          value={days}
          onChange={e => setDays(Number(e.target.value))}
        />
      </label>
      <label>
        Reason
        <textarea className="paved-request-reason" value={reason} onChange={e => setReason(e.target.value)} />
      </label>
      <button className="paved-button paved-request-submit" type="submit">
        Request access
      </button>
      {status ? <div className="paved-status">{status}</div> : null}
      {error ? <div className="paved-error">{error}</div> : null}
    </form>
  );
}

/** Requests the caller made and requests to decide as an owner project's admin. */
export function AccessRequests(props: { onClose: () => void }): JSX.Element {
  const [requests, setRequests] = React.useState<AccessRequest[] | null>(null);
  const [adminOf, setAdminOf] = React.useState<string[]>([]);
  const [comments, setComments] = React.useState<Record<string, string>>({});
  const [error, setError] = React.useState('');
  const load = async () => {
    try {
      const [r, p] = await Promise.all([api.accessRequests(), api.accessPurposes()]);
      setRequests(r.requests);
      setAdminOf(p.admin_of);
    } catch (e) {
      setError(message(e));
    }
  };
  React.useEffect(() => void load(), []);
  const decide = async (id: string, verb: 'approve' | 'deny') => {
    setError('');
    try {
      await api.decideAccess(id, verb, comments[id] ?? '');
    } catch (e) {
      setError(message(e));
    }
    await load();
  };
  return (
    <div className="paved-access-requests">
      <button className="paved-button paved-back" onClick={props.onClose}>
        ‹ Catalog
      </button>
      <h3>Access requests</h3>
      {error ? <div className="paved-error">{error}</div> : null}
      {requests === null ? <div className="paved-muted">Loading…</div> : null}
      {requests && requests.length === 0 ? <div className="paved-muted">No requests.</div> : null}
      {(requests ?? []).map(r => (
        <div key={r.id} className={`paved-access-request paved-access-${r.status}`} data-request={r.id}>
          <div>
            <strong>{r.name.split('/').pop()}</strong> of {r.owner_project} · {r.access} for {r.project}/{r.environment}{' '}
            · {Math.round(r.days * 100) / 100} days · by {r.requester}
          </div>
          <div className="paved-muted">“{r.reason}”</div>
          <div className="paved-access-status">
            {r.status}
            {r.decided_by ? ` by ${r.decided_by}` : ''}
            {r.comment ? `: ${r.comment}` : ''}
          </div>
          {r.status === 'pending' && adminOf.includes(r.owner_project) ? (
            <div className="paved-actions">
              <input
                className="paved-access-comment"
                placeholder="Comment"
                value={comments[r.id] ?? ''}
                onChange={e => setComments({ ...comments, [r.id]: e.target.value })}
              />
              <button className="paved-button paved-approve" onClick={() => void decide(r.id, 'approve')}>
                Approve
              </button>
              <button className="paved-button paved-deny" onClick={() => void decide(r.id, 'deny')}>
                Deny
              </button>
            </div>
          ) : null}
        </div>
      ))}
    </div>
  );
}

/** "Who uses my data": a dataset's active grants and its audit trail, for members of the owning project. */
export function DatasetUsage(props: { namespace: string; name: string }): JSX.Element | null {
  const [grants, setGrants] = React.useState<Grant[]>([]);
  const [audit, setAudit] = React.useState<AuditEntry[]>([]);
  React.useEffect(() => {
    api
      .datasetAudit(props.namespace, props.name)
      .then(r => setAudit(r.audit))
      .catch(() => setAudit([]));
    api
      .activeGrants()
      .then(r => setGrants(r.grants.filter(g => g.namespace === props.namespace && g.name === props.name)))
      .catch(() => setGrants([]));
  }, [props.namespace, props.name]);
  if (grants.length === 0 && audit.length === 0) {
    return null;
  }
  return (
    <div className="paved-dataset-usage">
      <h4>Who uses this data</h4>
      {grants.map(g => (
        <div key={g.id} className="paved-usage-grant">
          {g.project}/{g.environment} · {g.access} until {new Date(g.expires).toLocaleDateString()}
        </div>
      ))}
      <table className="paved-table paved-usage-audit">
        <tbody>
          {audit
            .slice(-20)
            .reverse()
            .map((a, i) => (
              <tr key={i}>
                <td className="paved-muted">{new Date(a.at).toLocaleString()}</td>
                <td>{a.action}</td>
                <td>
                  {a.actor}
                  {a.project ? ` for ${a.project}${a.environment ? '/' + a.environment : ''}` : ''}
                </td>
              </tr>
            ))}
        </tbody>
      </table>
    </div>
  );
}
