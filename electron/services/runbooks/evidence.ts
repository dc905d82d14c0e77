/** Evidence reports of a checklist run: JSON plus a standalone, human-readable HTML page. */
import { escapeHtmlUntrusted } from '../../../shared/escape';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { APP_VERSION } from '../version';
import { readFileSync } from 'node:fs';
import { loadSigningKey, signDetached } from '../audit/export';
import { auditHead, findAudit, type AuditRow } from '../audit/index';
import type { Db } from '../db/index';
import type { Workspace } from '../workspace/index';
import { getRun, runOutcome, type RunRecord } from './runs';
import type { Procedure } from './schema';
import { writeFileAtomic } from '../durability';

export interface EvidenceReport {
  format: 'okc-checklist-evidence/1';
  generatedAt: string;
  console: string;
  workspace: string;
  run: RunRecord;
  outcome: ReturnType<typeof runOutcome>;
  procedure: { id: string; title: string; section: string; description: string } | null;
  audit: { chainHead: ReturnType<typeof auditHead>; rows: AuditRow[] };
}

/** HTML text of any value: control and bidi characters escaped first (shared/escape.ts), then HTML. */
export function esc(s: unknown): string {
  return escapeHtmlUntrusted(String(s ?? ''));
}

export function buildEvidence(ws: Workspace, db: Db, runId: string, procedures: Procedure[], now = new Date()): EvidenceReport {
  const run = getRun(db, runId, procedures);
  const proc = procedures.find((p) => p.id === run.checklistId);
  // The run's own rows: its steps, and what its steps did (freeze/resume, forced imports, refusals found by its checks).
  const stepRows = findAudit(db, { actions: ['checklist.step.completed'], subjectPrefix: `${runId}/` });
  const related = findAudit(db, { since: run.startedAt }).filter((r) => r.action !== 'checklist.step.completed' && r.details.runId === runId);
  const rows = [...stepRows, ...related].sort((a, b) => a.id - b.id);
  return {
    format: 'okc-checklist-evidence/1',
    generatedAt: now.toISOString(),
    console: APP_VERSION,
    workspace: ws.dir,
    run,
    outcome: runOutcome(run),
    procedure: proc ? { id: proc.id, title: proc.title, section: proc.section, description: proc.description } : null,
    audit: { chainHead: auditHead(db), rows },
  };
}

const STATUS_COLOR: Record<string, string> = { not_applicable: '#57606a', passed: '#1a7f37', confirmed: '#1a7f37', warned: '#9a6700', unknown: '#57606a', failed: '#cf222e', declined: '#cf222e', pending: '#57606a' };

export function renderEvidenceHtml(r: EvidenceReport): string {
  const run = r.run;
  const CONFIRMED: Record<string, string> = { prompt: 'confirmed at the prompt', 'answers-file': 'confirmed from an answers file', 'yes-flag': 'confirmed in bulk with --yes' };
  const stepRows = run.steps
    .map((s) => {
      const ev = s.evidence ? `<details><summary>evidence</summary><pre>${esc(JSON.stringify(s.evidence, null, 2))}</pre></details>` : '';
      return `<tr><td>${s.position}</td><td>${esc(s.title)}<div class="id">${esc(s.stepId)} · ${esc(s.kind)}</div></td><td><span class="st" style="color:${STATUS_COLOR[s.status] ?? '#000'}">${esc(s.status)}</span>${s.confirmation ? `<div class="how${s.confirmation === 'yes-flag' ? ' bulk' : ''}">${esc(CONFIRMED[s.confirmation] ?? s.confirmation)}</div>` : ''}</td><td>${esc(s.summary ?? '')}${s.note ? `<div class="note">Note: ${esc(s.note)}</div>` : ''}${ev}</td><td>${esc(s.actor ?? '')}</td><td>${esc(s.completedAt ?? '')}</td></tr>`;
    })
    .join('\n');
  const inputs = Object.entries(run.inputs).map(([k, v]) => `<li><code>${esc(k)}</code> = ${esc(v)}</li>`).join('') || '<li>none</li>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Evidence: ${esc(run.title)} (${esc(run.id)})</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1f2328;max-width:72em}
h1{font-size:1.5em;margin-bottom:.2em}.meta{color:#57606a}table{border-collapse:collapse;width:100%;margin-top:1em}
th,td{border:1px solid #d0d7de;padding:.4em .6em;vertical-align:top;text-align:left}th{background:#f6f8fa}
.id{color:#57606a;font-size:.85em}.how{font-size:.8em;color:#57606a}.how.bulk{color:#9a6700;font-weight:600}.st{font-weight:600;text-transform:uppercase;font-size:.85em}.note{margin-top:.3em;font-style:italic}
pre{white-space:pre-wrap;word-break:break-all;font-size:.8em;background:#f6f8fa;padding:.5em}code{font-size:.9em}
.outcome{display:inline-block;padding:.1em .6em;border-radius:1em;color:#fff;background:${r.outcome === 'pass' ? '#1a7f37' : r.outcome === 'warn' ? '#9a6700' : r.outcome === 'fail' ? '#cf222e' : '#57606a'}}
</style></head><body>
<h1>${esc(run.title)}</h1>
<div class="meta">Runbook section ${esc(run.section)} · procedure <code>${esc(run.checklistId)}</code> · run <code>${esc(run.id)}</code></div>
<p>${esc(r.procedure?.description ?? '')}</p>
<p>State: <b>${esc(run.state)}</b> · Outcome: <span class="outcome">${esc(r.outcome)}</span>${run.blockedReason ? `<br>${esc(run.blockedReason)}` : ''}</p>
<p>Operator: ${esc(run.operator || '(not given)')} · Started ${esc(run.startedAt)} · ${run.finishedAt ? `Finished ${esc(run.finishedAt)}` : `Last update ${esc(run.updatedAt)}`}</p>
<p>Inputs:</p><ul>${inputs}</ul>
<table><thead><tr><th>#</th><th>Step</th><th>Status</th><th>Result</th><th>By</th><th>When (UTC)</th></tr></thead><tbody>
${stepRows}
</tbody></table>
<h2>Audit</h2>
<p>${r.audit.rows.length} audit row(s) record this run: its steps (<code>checklist.step.completed</code>) and what they did (${esc([...new Set(r.audit.rows.map((x) => x.action).filter((a) => a !== 'checklist.step.completed'))].join(', ') || 'nothing else')}). Audit chain head at export: ${r.audit.chainHead.count} rows, last id ${r.audit.chainHead.lastId}, hash <code>${esc(r.audit.chainHead.hash)}</code>. Check later with <code>mirror audit verify --against</code> an audit export.</p>
<p class="meta">Generated ${esc(r.generatedAt)} by Export Center Offline Console ${esc(r.console)} for workspace ${esc(r.workspace)}.</p>
</body></html>
`;
}

/**
 * Writes `<dir>/<runId>.json` and `<dir>/<runId>.html` (default dir: the
 * workspace evidence folder). With `signWith` (a PEM private key, as for
 * `audit export`), also detached signatures `<file>.sig` of both.
 */
export function exportRunEvidence(ws: Workspace, db: Db, runId: string, procedures: Procedure[], outDir?: string, opts: { signWith?: string } = {}): { dir: string; json: string; html: string; signatures: string[]; report: EvidenceReport } {
  const key = opts.signWith ? loadSigningKey(opts.signWith) : null;
  const report = buildEvidence(ws, db, runId, procedures);
  const dir = resolve(outDir ?? join(ws.layout.evidence, 'checklists'));
  mkdirSync(dir, { recursive: true });
  const json = join(dir, `${runId}.json`);
  const html = join(dir, `${runId}.html`);
  writeFileAtomic(json, JSON.stringify(report, null, 2) + '\n');
  writeFileAtomic(html, renderEvidenceHtml(report));
  const signatures: string[] = [];
  if (key) {
    for (const f of [json, html]) {
      writeFileAtomic(`${f}.sig`, signDetached(readFileSync(f), key) + '\n');
      signatures.push(`${f}.sig`);
    }
  }
  return { dir, json, html, signatures, report };
}
