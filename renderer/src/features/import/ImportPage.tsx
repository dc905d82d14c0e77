import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import type { ImportSummary, JobInfo } from '../../../../shared/contract';
import { toShape, useInvoke } from '../../api/ApiProvider';
import { useJobStore } from '../../api/jobStore';
import { useAppInfo } from '../../api/queries';
import { ErrorPanel } from '../../components/ErrorPanel';
import { JobProgressBar } from '../../components/JobProgressBar';
import { VerdictView } from '../../components/VerdictView';
import { shortDigest } from '../../components/format';
import { useImportStore } from './store';

const lines = (s: string) =>
  s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);

export function ImportPage() {
  const invoke = useInvoke();
  const { path, keyFiles, identityFiles, jobId, setPath, setKeyFiles, setIdentityFiles, setJob } = useImportStore();
  const [keyText, setKeyText] = useState(keyFiles.join('\n'));
  const [identityText, setIdentityText] = useState(identityFiles.join('\n'));
  const [pickError, setPickError] = useState<unknown>(null);
  // The browser shell has no native picker: the typed path fields are the way in.
  const nativePicker = useAppInfo().data?.nativePicker === true;
  const [dryRun, setDryRun] = useState(false);
  const [forceReason, setForceReason] = useState('');

  // Keep the text areas in step when another page prefilled the store (the demo kit offer).
  const [seenKeys, setSeenKeys] = useState(keyFiles);
  if (seenKeys !== keyFiles) {
    setSeenKeys(keyFiles);
    setKeyText(keyFiles.join('\n'));
  }

  const start = useMutation({
    mutationFn: async (kind: 'verify' | 'import') => {
      const keys = lines(keyText);
      const ids = lines(identityText);
      setKeyFiles(keys);
      setIdentityFiles(ids);
      const trust = { keyFiles: keys.length ? keys : undefined, identityFiles: ids.length ? ids : undefined };
      const r =
        kind === 'verify'
          ? await invoke('verify.start', { path, ...trust })
          : await invoke('import.start', { paths: [path], ...trust, dryRun: dryRun || undefined, forceReason: forceReason.trim() || undefined });
      return r.jobId;
    },
    onSuccess: (id) => setJob(id),
    onMutate: () => setJob(null),
  });

  const pick = async (mode: 'file' | 'directory', onPath: (p: string) => void) => {
    setPickError(null);
    try {
      const r = await invoke('dialog.openPath', { mode, title: mode === 'file' ? 'Choose a bundle' : 'Choose a kit folder' });
      if (r.path) onPath(r.path);
    } catch (e) {
      setPickError(e);
    }
  };

  return (
    <div className="stack">
      <section className="card" aria-label="Choose input">
        <h2>Bundle or kit</h2>
        <p className="muted">Verify a bundle or an offline kit from removable media, or import it into staging. Nothing is applied unless every check passes.</p>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            start.mutate('verify');
          }}
        >
          <label htmlFor="import-path">Path to a bundle file or kit folder</label>
          <div className="row">
            <input id="import-path" type="text" value={path} onChange={(e) => setPath(e.target.value)} placeholder="/media/usb/offline-kit" spellCheck={false} />
            {nativePicker && (
              <>
                <button type="button" onClick={() => void pick('file', setPath)}>
                  Choose file…
                </button>
                <button type="button" onClick={() => void pick('directory', setPath)}>
                  Choose folder…
                </button>
              </>
            )}
          </div>
          <label htmlFor="import-keys">Trusted public key files for this run (one path per line; the workspace's pinned keys are always used)</label>
          <textarea id="import-keys" rows={2} value={keyText} onChange={(e) => setKeyText(e.target.value)} spellCheck={false} />
          <label htmlFor="import-identities">age identity files, for encrypted bundles (optional, one per line)</label>
          <textarea id="import-identities" rows={1} value={identityText} onChange={(e) => setIdentityText(e.target.value)} spellCheck={false} />
          <details className="advanced">
            <summary>Import options</summary>
            <label className="check">
              <input type="checkbox" checked={dryRun} onChange={(e) => setDryRun(e.target.checked)} /> Dry run: verify and show the plan, change nothing
            </label>
            <label htmlFor="import-force">Force reason (only to re-import a full bundle that is not newer than staging; recorded in the audit log)</label>
            <input id="import-force" type="text" value={forceReason} onChange={(e) => setForceReason(e.target.value)} placeholder="e.g. CHG-1234 restore after corrupted staging" />
          </details>
          <div className="row">
            <button type="submit" disabled={!path.trim() || start.isPending}>
              Verify
            </button>
            <button type="button" className="primary" disabled={!path.trim() || start.isPending} onClick={() => start.mutate('import')}>
              Import into staging
            </button>
          </div>
        </form>
        {pickError !== null && <ErrorPanel error={pickError} title="File picker" />}
        {start.error && <ErrorPanel error={toShape(start.error)} title="The job could not start" />}
      </section>
      {jobId && <JobPanel jobId={jobId} />}
    </div>
  );
}

function JobPanel({ jobId }: { jobId: string }) {
  const invoke = useInvoke();
  const progress = useJobStore((s) => s.progressById[jobId]);
  const doneEvent = useJobStore((s) => s.doneById[jobId]);
  // Events drive the view; polling is the safety net if an event was missed.
  const polled = useQuery({
    queryKey: ['jobs', jobId],
    queryFn: () => invoke('jobs.result', { jobId }),
    refetchInterval: (q) => (q.state.data && q.state.data.state !== 'running' ? false : 1000),
  });
  const cancel = useMutation({ mutationFn: () => invoke('jobs.cancel', { jobId }) });
  const info: JobInfo | undefined = doneEvent ?? polled.data;
  const running = !info || info.state === 'running';

  return (
    <section className="card" aria-label={running ? 'Job in progress' : 'Job result'}>
      <h2>{info?.kind === 'import' ? 'Import' : 'Verification'}</h2>
      {running ? (
        <>
          <JobProgressBar progress={progress ?? info?.progress} label="Progress" />
          <button type="button" className="danger" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
            Cancel
          </button>
        </>
      ) : (
        <JobResult info={info} />
      )}
      {polled.error && <ErrorPanel error={polled.error} />}
    </section>
  );
}

function JobResult({ info }: { info: JobInfo }) {
  const word = info.state === 'succeeded' ? (info.kind === 'import' ? 'Imported' : 'Verified') : info.state === 'cancelled' ? 'Cancelled' : 'Refused';
  return (
    <div className="stack">
      <p>
        <span className={`state state-${info.state}`}>{word}</span>
      </p>
      {info.error && <ErrorPanel error={info.error} title={info.state === 'cancelled' ? 'Cancelled' : 'Refused'} />}
      {info.verdict && <VerdictView verdict={info.verdict} />}
      {info.import && <ImportSummaryView summary={info.import} />}
      {info.status && (
        <section className="card-inner" aria-label="Staging after import">
          <h3>Staging now</h3>
          <dl className="facts">
            <dt>Current export</dt>
            <dd>{info.status.exportId ? <code>{info.status.exportId}</code> : 'nothing applied'}</dd>
            <dt>Generation</dt>
            <dd>{info.status.generation ?? '–'}</dd>
            <dt>State digest</dt>
            <dd>
              <code>{shortDigest(info.status.stateDigest)}</code>
            </dd>
          </dl>
        </section>
      )}
    </div>
  );
}

function ImportSummaryView({ summary }: { summary: ImportSummary }) {
  return (
    <section className={`verdict ${summary.ok ? 'verdict-ok' : 'verdict-bad'}`} aria-label="Import result">
      <header>
        <span className={`badge ${summary.ok ? 'badge-ok' : 'badge-bad'}`}>{summary.ok ? (summary.dryRun ? 'Plan' : 'Applied') : 'Refused'}</span>{' '}
        {summary.code && <code className="code">{summary.code}</code>}
      </header>
      <p className="verdict-message">{summary.message}</p>
      {summary.action && (
        <p className="error-action">
          <strong>What to do:</strong> {summary.action}
        </p>
      )}
      {summary.missing.length > 0 && <p className="bad">Missing generations: {summary.missing.join(', ')}</p>}
      <table>
        <caption className="sr-only">Bundles, in application order</caption>
        <thead>
          <tr>
            <th scope="col">Bundle</th>
            <th scope="col">Kind</th>
            <th scope="col">Generation</th>
            <th scope="col">Outcome</th>
            <th scope="col">Detail</th>
          </tr>
        </thead>
        <tbody>
          {summary.items.map((it, i) => (
            <tr key={`${it.path}-${i}`}>
              <td>
                <code title={it.path}>{it.path.split(/[\\/]/).pop()}</code>
              </td>
              <td>{it.kind ?? '–'}</td>
              <td>{it.generation ?? '–'}</td>
              <td className={it.code ? 'bad' : 'ok'}>{it.outcome}</td>
              <td>
                {it.code && <code className="code">{it.code}</code>} {it.message}
                {it.verdict && !it.verdict.ok && it.verdict.action ? (
                  <span className="block-line">
                    <strong>What to do:</strong> {it.verdict.action}
                  </span>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {summary.warnings.length > 0 && (
        <ul className="warnings" aria-label="Warnings">
          {summary.warnings.map((w, i) => (
            <li key={i}>⚠ {w}</li>
          ))}
        </ul>
      )}
    </section>
  );
}
