import type { Verdict } from '../../../shared/types';
import { formatBytes } from './format';

/** A verdict in plain words: passed or refused, why, what to do, and every check. */
export function VerdictView({ verdict, nested = false }: { verdict: Verdict; nested?: boolean }) {
  const ok = verdict.ok;
  return (
    <section className={`verdict ${ok ? 'verdict-ok' : 'verdict-bad'}`} aria-label={nested ? `Result for ${verdict.path}` : 'Verdict'}>
      <header>
        <span className={`badge ${ok ? 'badge-ok' : 'badge-bad'}`}>{ok ? 'Verified' : 'Refused'}</span>{' '}
        {verdict.code && <code className="code">{verdict.code}</code>} <span className="muted">{verdict.kind}</span>
      </header>
      <p className="verdict-message">{verdict.message}</p>
      {verdict.action && (
        <p className="error-action">
          <strong>What to do:</strong> {verdict.action}
        </p>
      )}
      <dl className="facts">
        <dt>Input</dt>
        <dd>
          <code>{verdict.path}</code>
        </dd>
        {verdict.exportId && (
          <>
            <dt>Export</dt>
            <dd>
              <code>{verdict.exportId}</code>
            </dd>
          </>
        )}
        {verdict.generation !== null && (
          <>
            <dt>Generation</dt>
            <dd>{verdict.generation}</dd>
          </>
        )}
        {verdict.member && (
          <>
            <dt>Member</dt>
            <dd>
              <code>{verdict.member}</code>
            </dd>
          </>
        )}
        <dt>Read</dt>
        <dd>
          {formatBytes(verdict.stats.bytes)} in {verdict.stats.files} files, {verdict.stats.seconds.toFixed(1)} s
        </dd>
        {verdict.keys && verdict.keys.signedBy.length > 0 && (
          <>
            <dt>Signed by</dt>
            <dd>
              {verdict.keys.signedBy.map((k) => (
                <code key={k} className="block">
                  {k}
                </code>
              ))}
            </dd>
          </>
        )}
      </dl>
      {verdict.checks.length > 0 && (
        <ul className="checks" aria-label="Checks">
          {verdict.checks.map((c, i) => (
            <li key={`${c.name}-${i}`} className={c.ok ? 'check-ok' : 'check-bad'}>
              <span aria-hidden="true">{c.ok ? '✓' : '✗'}</span> {c.name}
              {c.detail ? <span className="muted"> — {c.detail}</span> : null}
            </li>
          ))}
        </ul>
      )}
      {verdict.failures && verdict.failures.length > 1 && (
        <details>
          <summary>All {verdict.failures.length} failures</summary>
          <ul>
            {verdict.failures.map((f, i) => (
              <li key={i}>
                <code>{f.code}</code> {f.message} {f.path && <code>{f.path}</code>}
              </li>
            ))}
          </ul>
        </details>
      )}
      {verdict.warnings.length > 0 && (
        <ul className="warnings" aria-label="Warnings">
          {verdict.warnings.map((w, i) => (
            <li key={i}>⚠ {w}</li>
          ))}
        </ul>
      )}
      {verdict.items.length > 0 && (
        <div className="items">
          <h4>Kit entries, in application order</h4>
          {verdict.items.map((item, i) => (
            <VerdictView key={`${item.path}-${i}`} verdict={item} nested />
          ))}
        </div>
      )}
    </section>
  );
}
