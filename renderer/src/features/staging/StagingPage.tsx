import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useInvoke } from '../../api/ApiProvider';
import { ErrorPanel } from '../../components/ErrorPanel';
import { Loading } from '../../components/Loading';
import { formatTime, shortDigest } from '../../components/format';
import { VerdictView } from '../../components/VerdictView';

export function StagingPage() {
  const invoke = useInvoke();
  const status = useQuery({ queryKey: ['workspace', 'status'], queryFn: () => invoke('workspace.status', {}) });
  const [deep, setDeep] = useState(false);
  const deepStatus = useQuery({ queryKey: ['workspace', 'status', 'deep'], queryFn: () => invoke('workspace.status', { deep: true }), enabled: deep });
  const [confirming, setConfirming] = useState<number | null>(null);
  const rollback = useMutation({
    mutationFn: (to: number) => invoke('staging.rollback', { to }),
    onSettled: () => setConfirming(null),
  });

  return (
    <div className="stack">
      <section className="card" aria-label="Current generation">
        <h2>Current generation</h2>
        {status.isPending && <Loading what="workspace status" />}
        {status.error && <ErrorPanel error={status.error} title="Workspace status unavailable" />}
        {status.data && (
          <>
            <dl className="facts">
              <dt>Export</dt>
              <dd>{status.data.exportId ? <code>{status.data.exportId}</code> : 'nothing applied yet'}</dd>
              <dt>Generation</dt>
              <dd>{status.data.generation ?? '–'}</dd>
              <dt>State digest</dt>
              <dd>
                <code>{status.data.stateDigest ?? '–'}</code>
              </dd>
              {status.data.importsFrozen && (
                <>
                  <dt>Imports</dt>
                  <dd className="bad">
                    frozen since {formatTime(status.data.importsFrozen.since)}: {status.data.importsFrozen.reason}
                  </dd>
                </>
              )}
            </dl>
            <button type="button" onClick={() => (deep ? void deepStatus.refetch() : setDeep(true))} disabled={deepStatus.isFetching}>
              Recompute the state digest from disk
            </button>
            {deepStatus.isFetching && <Loading what="every file of the current generation" />}
            {deepStatus.error && <ErrorPanel error={deepStatus.error} title="Deep check failed" />}
            {deepStatus.data && !deepStatus.isFetching && (
              <>
                <p role="status">
                  Recomputed digest <code>{shortDigest(deepStatus.data.stateDigest)}</code>
                  {deepStatus.data.stateDigest === status.data.stateDigest ? ' matches the recorded state.' : ' differs from the recorded state.'}
                </p>
                {deepStatus.data.deep && <VerdictView verdict={deepStatus.data.deep} />}
              </>
            )}
          </>
        )}
      </section>

      <section className="card" aria-label="Generations">
        <h2>Kept generations</h2>
        {status.data && status.data.generations.length === 0 && <p>No generation yet.</p>}
        {status.data && status.data.generations.length > 0 && (
          <table>
            <caption className="sr-only">Staging generations</caption>
            <thead>
              <tr>
                <th scope="col">Generation</th>
                <th scope="col">Export</th>
                <th scope="col">Applied</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {status.data.generations.map((g) => {
                const current = g.generation === status.data.generation && g.exportId === status.data.exportId;
                return (
                  <tr key={`${g.generation}-${g.exportId}-${g.appliedAt}`}>
                    <td>{g.generation}</td>
                    <td>
                      <code>{g.exportId}</code>
                    </td>
                    <td>{formatTime(g.appliedAt)}</td>
                    <td>
                      {current ? (
                        <span className="badge badge-ok">current</span>
                      ) : confirming === g.generation ? (
                        <span className="row">
                          <button type="button" className="danger" disabled={rollback.isPending} onClick={() => rollback.mutate(g.generation)}>
                            Confirm rollback to {g.generation}
                          </button>
                          <button type="button" onClick={() => setConfirming(null)}>
                            Keep current
                          </button>
                        </span>
                      ) : (
                        <button type="button" onClick={() => setConfirming(g.generation)}>
                          Roll back to {g.generation}
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        <p className="muted">Rollback deep-verifies the target generation first, switches atomically and is recorded in the audit log.</p>
        {rollback.error && <ErrorPanel error={rollback.error} title="Rollback refused" />}
        {rollback.data && (
          <p role="status">
            Rolled back: generation {rollback.data.generation} (<code>{rollback.data.exportId}</code>) is current.
          </p>
        )}
      </section>
    </div>
  );
}
