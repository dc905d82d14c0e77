import { keepPreviousData, useMutation, useQuery } from '@tanstack/react-query';
import { useInvoke } from '../../api/ApiProvider';
import { ErrorPanel } from '../../components/ErrorPanel';
import { Loading } from '../../components/Loading';
import { formatTime, shortDigest } from '../../components/format';
import { useAuditUi } from './store';

const PAGE_SIZE = 25;

export function AuditPage() {
  const invoke = useInvoke();
  const { cursors, action, fromDay, toDay, next, previous, setAction, setRange } = useAuditUi();
  const cursor = cursors[cursors.length - 1];
  const page = cursors.length;
  const from = fromDay ? `${fromDay}T00:00:00Z` : undefined;
  const to = toDay ? dayAfter(toDay) : undefined;
  const rows = useQuery({
    queryKey: ['audit', 'list', cursor, action, from, to],
    queryFn: () => invoke('audit.list', { limit: PAGE_SIZE, cursor, action: action.trim() || undefined, from, to }),
    placeholderData: keepPreviousData,
  });
  const verify = useMutation({ mutationFn: () => invoke('audit.verify', {}) });

  return (
    <div className="stack">
      <section className="card" aria-label="Chain">
        <h2>Tamper-evident chain</h2>
        <p className="muted">Every row is hash-chained to the previous one. Verification walks the whole chain and names the first broken row.</p>
        <button type="button" onClick={() => verify.mutate()} disabled={verify.isPending}>
          Verify chain
        </button>
        {verify.isPending && <Loading what="the audit chain" />}
        {verify.error && <ErrorPanel error={verify.error} title="Chain verification failed" />}
        {verify.data && (
          <p role="status" className={verify.data.ok ? 'ok' : 'bad'}>
            <strong>{verify.data.ok ? 'Chain intact' : 'Chain broken'}</strong>: {verify.data.message} ({verify.data.rows} rows
            {verify.data.headHash ? <>, head <code>{shortDigest(verify.data.headHash)}</code></> : null})
          </p>
        )}
      </section>

      <section className="card card-wide" aria-label="Audit log">
        <h2>Events</h2>
        <div className="row">
          <label htmlFor="audit-action">Action filter</label>
          <input id="audit-action" type="text" placeholder="e.g. mirror.bundle.imported" value={action} onChange={(e) => setAction(e.target.value)} />
          <label htmlFor="audit-from">From (UTC day)</label>
          <input id="audit-from" type="date" value={fromDay} onChange={(e) => setRange(e.target.value, toDay)} />
          <label htmlFor="audit-to">To (UTC day)</label>
          <input id="audit-to" type="date" value={toDay} onChange={(e) => setRange(fromDay, e.target.value)} />
        </div>
        {rows.isPending && <Loading what="audit events" />}
        {rows.error && <ErrorPanel error={rows.error} title="Audit log unavailable" />}
        {rows.data && rows.data.rows.length === 0 && <p>No audit events{action ? ` for "${action}"` : ''}.</p>}
        {rows.data && rows.data.rows.length > 0 && (
          <table>
            <caption className="sr-only">Audit events</caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Time (UTC)</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Subject</th>
                <th scope="col">Hash</th>
              </tr>
            </thead>
            <tbody>
              {rows.data.rows.map((r) => (
                <tr key={r.id}>
                  <td>{r.id}</td>
                  <td>{formatTime(r.ts)}</td>
                  <td>{r.actor}</td>
                  <td>
                    <code>{r.action}</code>
                  </td>
                  <td title={JSON.stringify(r.details)}>{r.subject}</td>
                  <td>
                    <code title={r.hash}>{shortDigest(r.hash)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {rows.data && (
          <div className="row pager">
            <button type="button" disabled={page <= 1} onClick={() => previous()}>
              Newer
            </button>
            <span>Page {page} (newest first)</span>
            <button type="button" disabled={!rows.data.nextCursor} onClick={() => rows.data.nextCursor && next(rows.data.nextCursor)}>
              Older
            </button>
          </div>
        )}
      </section>
    </div>
  );
}

/** The exclusive upper bound for a last day: the next day's midnight UTC. */
function dayAfter(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
