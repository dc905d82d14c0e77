import { useAppInfo, useChecklistRuns, useChecklists, useDemoKit, useWorkspaceStatus } from '../../api/queries';
import { useNav } from '../../app/navStore';
import { ErrorPanel } from '../../components/ErrorPanel';
import { Loading } from '../../components/Loading';
import { formatTime, shortDigest } from '../../components/format';
import { useImportStore } from '../import/store';

export function DashboardPage() {
  const info = useAppInfo();
  const status = useWorkspaceStatus();
  const demo = useDemoKit();
  const go = useNav((s) => s.go);
  const prefill = useImportStore((s) => s.prefill);

  const empty = status.data ? status.data.generation === null && status.data.library.length === 0 : (info.data?.workspaceEmpty ?? false);
  const offerDemo = empty && demo.data?.present;

  return (
    <div className="grid">
      {offerDemo && demo.data && (
        <section className="card card-wide highlight" aria-label="Get started">
          <h2>Get started</h2>
          <p>This workspace is empty. The console ships a small signed demo kit (a full bundle, two deltas and a Trivy DB bundle) so you can try verification and import safely.</p>
          {demo.data.keyFingerprint && (
            <p className="muted">
              Demo key: {demo.data.algorithm} <code>{demo.data.keyFingerprint}</code>
            </p>
          )}
          <button
            type="button"
            className="primary"
            onClick={() => {
              prefill(demo.data!.path!, demo.data!.keyPath ? [demo.data!.keyPath] : []);
              go('import');
            }}
          >
            Open the demo kit
          </button>
        </section>
      )}

      <section className="card" aria-label="Console">
        <h2>Console</h2>
        {info.isPending && <Loading what="console information" />}
        {info.error && <ErrorPanel error={info.error} />}
        {info.data && (
          <dl className="facts">
            <dt>Version</dt>
            <dd>{info.data.version}</dd>
            <dt>Workspace</dt>
            <dd>
              <code>{info.data.workspacePath}</code>
            </dd>
            <dt>Node</dt>
            <dd>{info.data.versions.node}</dd>
            <dt>Chromium</dt>
            <dd>{info.data.versions.chromium ?? 'unknown'}</dd>
            <dt>Electron</dt>
            <dd>{info.data.versions.electron ?? 'not running in Electron'}</dd>
            <dt>Platform</dt>
            <dd>
              {info.data.platform} / {info.data.arch}
            </dd>
          </dl>
        )}
      </section>

      <section className="card" aria-label="Staging">
        <h2>Staging</h2>
        {status.isPending && <Loading what="workspace status" />}
        {status.error && <ErrorPanel error={status.error} title="Workspace status unavailable" />}
        {status.data && (
          <dl className="facts">
            <dt>Current export</dt>
            <dd>{status.data.exportId ? <code>{status.data.exportId}</code> : 'nothing applied yet'}</dd>
            <dt>Generation</dt>
            <dd>{status.data.generation ?? '–'}</dd>
            <dt>State digest</dt>
            <dd>
              <code title={status.data.stateDigest ?? ''}>{shortDigest(status.data.stateDigest)}</code>
            </dd>
            <dt>Kept generations</dt>
            <dd>{status.data.generations.length}</dd>
            <dt>Library</dt>
            <dd>{status.data.library.length} bundles</dd>
            {status.data.importsFrozen && (
              <>
                <dt>Imports</dt>
                <dd className="bad">frozen: {status.data.importsFrozen.reason ?? 'no reason recorded'}</dd>
              </>
            )}
          </dl>
        )}
      </section>

      <DailySummary />
    </div>
  );
}

function DailySummary() {
  const lists = useChecklists();
  const runs = useChecklistRuns();
  const go = useNav((s) => s.go);
  const daily = lists.data?.find((c) => /daily/i.test(c.id) || /daily/i.test(c.title) || c.section.startsWith('4.1'));
  const run = daily && runs.data ? runs.data.filter((r) => r.checklistId === daily.id).sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? ''))[0] : undefined;
  const doneSteps = run ? run.steps.filter((s) => s.status !== 'pending').length : 0;
  return (
    <section className="card" aria-label="Daily checklist">
      <h2>Daily checklist</h2>
      {(lists.isPending || runs.isPending) && <Loading what="checklists" />}
      {lists.error && <ErrorPanel error={lists.error} title="Checklists unavailable" />}
      {lists.data && !daily && <p className="muted">No daily checklist is installed.</p>}
      {daily && (
        <>
          <p>
            <strong>{daily.title}</strong> <span className="muted">(runbook {daily.section})</span>
          </p>
          {run ? (
            <p>
              Last run started {formatTime(run.startedAt)}: <span className={`state state-${run.state}`}>{run.state.replace('_', ' ')}</span>, {doneSteps} of {run.steps.length} steps done.
            </p>
          ) : (
            <p>Not run yet.</p>
          )}
          <button type="button" onClick={() => go('checklists')}>
            Open checklists
          </button>
        </>
      )}
    </section>
  );
}
