import { appendFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isOpsError } from '../../../shared/errors';
import { readExportHead } from '../audit/export';
import { appendAudit, queryAudit, verifyAuditChain } from '../audit/index';
import { openDatabase, type Db } from '../db/index';
import { addTrustedKey, inspectPublicKey } from '../keys/index';
import { logEvent } from '../obs/index';
import { generateSigningKey, signatureFile } from '../producer/index';
import { KITS, tempDir } from '../testing/fixtures';
import { openWorkspace, type Workspace } from '../workspace/index';
import { engineRunbookServices } from '../engine';
import { runbookServices } from './services';
import {
  acknowledgeFailures,
  advanceRun,
  assertImportsNotFrozen,
  CHECKS,
  createRun,
  exportRunEvidence,
  failureLookup,
  findProcedure,
  freezeImports,
  getRun,
  importsFrozen,
  freezeState,
  loadProcedures,
  parseProcedure,
  resumeImports,
  runOutcome,
  toChecklistRunView,
  treeBytes,
  type CheckContext,
} from './index';
import type { Procedure } from './schema';

let dir: string;
let cleanup: () => void;
let ws: Workspace;
let db: Db;
let procs: Procedure[];

beforeEach(() => {
  ({ dir, cleanup } = tempDir('okc-rb-'));
  ws = openWorkspace(join(dir, 'ws'), { create: true });
  db = openDatabase(ws.layout.db);
  procs = loadProcedures();
});
afterEach(() => {
  if (db.open) db.close();
  cleanup();
});

function ctx(extra: Partial<CheckContext> = {}): CheckContext {
  return { ws, db, settings: ws.settings, services: engineRunbookServices(), now: new Date(), params: {}, previous: {}, ...extra };
}
const env = () => ({ ws, db, settings: ws.settings, procedures: procs, services: engineRunbookServices() });

describe('procedure files', () => {
  it('every shipped procedure validates and the required sections are present', () => {
    expect(procs.map((p) => p.section)).toEqual(['4.1', '4.2', '4.3', '5.2', '7.1', '7.2', '7.3', '8.1', '8.2', '9']);
    for (const p of procs) for (const s of p.steps) if (s.type === 'automated') expect(CHECKS[s.check], `${p.id}/${s.id}`).toBeDefined();
  });

  it('refuses a procedure with an unknown check, a duplicate step or an undeclared input', () => {
    const base = { id: 'x', title: 'Xxx', section: '9.9', kind: 'checklist', description: 'd', steps: [{ id: 'a', type: 'manual', title: 'Step a' }] };
    expect(parseProcedure(JSON.stringify(base), 'x.json').steps[0]).toMatchObject({ type: 'manual', noteRequired: false });
    const bad = [
      { ...base, steps: [{ id: 'a', type: 'automated', title: 'Step a', check: 'no.such.check' }] },
      { ...base, steps: [base.steps[0], base.steps[0]] },
      { ...base, steps: [{ id: 'a', type: 'automated', title: 'Step a', check: 'bundle.verify', params: { path: '${input.nope}' } }] },
      { ...base, section: 'four' },
      { ...base, steps: [] },
    ];
    for (const b of bad) {
      try {
        parseProcedure(JSON.stringify(b), 'bad.json');
        expect.unreachable(JSON.stringify(b));
      } catch (e) {
        expect(isOpsError(e) && e.code).toBe('ERR_RUNBOOK_INVALID');
      }
    }
    expect(() => parseProcedure('{nope', 'bad.json')).toThrow(/not valid JSON/);
  });
});

describe('checks', () => {
  it('retention.recent: fails without a run, passes within 24 h (even when nothing was pruned), fails when stale', () => {
    expect(CHECKS['retention.recent'].run(ctx())).toMatchObject({ status: 'fail' });
    appendAudit(db, { action: 'retention.run', subject: 'workspace', details: { pruned: 0 }, ts: '2025-11-01T00:00:00.000Z' });
    expect(CHECKS['retention.recent'].run(ctx({ now: new Date('2025-11-01T20:00:00Z') }))).toMatchObject({ status: 'pass' });
    const stale = CHECKS['retention.recent'].run(ctx({ now: new Date('2025-11-02T01:00:00Z') })) as { status: string; summary: string };
    expect(stale.status).toBe('fail');
    expect(stale.summary).toMatch(/ExportCenterRetentionStale/);
  });

  it('logs.scan: finds the failure events and keeps reporting them until an operator acknowledges them (audited)', () => {
    logEvent(ws, { event: 'mirror.bundle.imported', exportId: 'e1' });
    logEvent(ws, { event: 'mirror.delta.apply_failed', errorCode: 'ERR_EXPORT_BASE_MISSING', exportId: 'e2' });
    logEvent(ws, { event: 'adapter.trivy.unsupported_schema_version', errorCode: 'ERR_EXPORT_UNSUPPORTED_SCHEMA' });
    const first = CHECKS['logs.scan'].run(ctx({ now: new Date(Date.now() + 1000) })) as unknown as { status: string; evidence: { counts: Record<string, number>; codes: string[] } };
    expect(first.status).toBe('fail');
    expect(first.evidence.counts).toEqual({ 'mirror.delta.apply_failed': 1, 'adapter.trivy.unsupported_schema_version': 1 });
    expect(first.evidence.codes.sort()).toEqual(['ERR_EXPORT_BASE_MISSING', 'ERR_EXPORT_UNSUPPORTED_SCHEMA']);
    // A rerun does not make the failure disappear.
    expect(CHECKS['logs.scan'].run(ctx({ now: new Date(Date.now() + 2000) }))).toMatchObject({ status: 'fail' });
    expect(() => acknowledgeFailures(ws, db, { reason: '' })).toThrow(/reason/);
    const ack = acknowledgeFailures(ws, db, { reason: 'Re-copied the delta, CHG-9', operator: 'alice', now: new Date(Date.now() + 3000) });
    expect(ack.count).toBe(2);
    const row = queryAudit(db, { action: 'failures.acknowledged' }).rows[0];
    expect(row.details).toMatchObject({ reason: 'Re-copied the delta, CHG-9', count: 2 });
    expect(row.actor).toMatch(/alice/);
    expect(CHECKS['logs.scan'].run(ctx({ now: new Date(Date.now() + 4000) }))).toMatchObject({ status: 'pass' });
    // Nothing new: nothing to acknowledge.
    expect(() => acknowledgeFailures(ws, db, { reason: 'again', now: new Date(Date.now() + 5000) })).toThrow(/nothing to acknowledge/);
  });

  it('treeBytes: every regular file once per inode (across folders and across calls sharing `seen`), the event loop turning every `slice` entries', async () => {
    const root = join(dir, 'walk');
    let expected = 0;
    // 30 folders of 1 to 3 levels with 40 files each, of sizes 0..4,095.
    for (let d = 0; d < 30; d++) {
      const folder = join(root, `d${d}`, ...(d % 3 === 0 ? ['x', 'y'] : d % 3 === 1 ? ['x'] : []));
      mkdirSync(folder, { recursive: true });
      for (let i = 0; i < 40; i++) {
        const size = (d * 131 + i * 97) % 4096;
        writeFileSync(join(folder, `f${i}`), Buffer.alloc(size, 1));
        expected += size;
      }
    }
    // A hard link inside the tree counts once; a symbolic link not at all.
    linkSync(join(root, 'd1', 'x', 'f3'), join(root, 'd2', 'again'));
    symlinkSync(join(root, 'd2', 'f1'), join(root, 'd2', 'sym'));
    let turns = 0;
    let turning = true;
    const spin = (): void => {
      turns++;
      if (turning) setImmediate(spin);
    };
    setImmediate(spin);
    const seen = new Set<string>();
    // A turn every 50 entries (2,000 in use): ~26 here.
    const bytes = await treeBytes(root, seen, 50);
    turning = false;
    expect(bytes).toBe(expected);
    expect(seen.size).toBe(30 * 40);
    // The walk gives the event loop its turns (a blocking walk would give none until it ends).
    expect(turns).toBeGreaterThanOrEqual(20);
    // The same inodes seen by an earlier call (another generation's links) are not counted again.
    mkdirSync(join(dir, 'walk2'));
    linkSync(join(root, 'd0', 'x', 'y', 'f5'), join(dir, 'walk2', 'shared'));
    writeFileSync(join(dir, 'walk2', 'own'), Buffer.alloc(777));
    expect(await treeBytes(join(dir, 'walk2'), seen)).toBe(777);
    expect(await treeBytes(join(dir, 'no-such-folder'))).toBe(0);
  });

  it('storage.capacity: warn and fail levels from settings, hard links counted once', async () => {
    const f = join(ws.layout.staging, 'x.bin');
    writeFileSync(f, Buffer.alloc(1_000_000));
    mkdirSync(join(ws.layout.library, 'a'), { recursive: true });
    writeFileSync(join(ws.layout.library, 'a', 'b.bin'), Buffer.alloc(500_000));
    // A kept generation hard-links unchanged files: they use the space once.
    mkdirSync(join(ws.layout.staging, '2'), { recursive: true });
    linkSync(f, join(ws.layout.staging, '2', 'x.bin'));
    const settings = { ...ws.settings, capacity: { warnBytes: 1_400_000, failBytes: 2_000_000, warnFreeBytes: 0, failFreeBytes: 0 } };
    const r = (await CHECKS['storage.capacity'].run(ctx({ settings }))) as unknown as { status: string; evidence: { usedBytes: number } };
    expect(r.evidence.usedBytes).toBe(1_500_000);
    expect(r.status).toBe('warn');
    expect(((await CHECKS['storage.capacity'].run(ctx({ settings: { ...settings, capacity: { ...settings.capacity, failBytes: 1_500_000 } } }))) as { status: string }).status).toBe('fail');
    expect(((await CHECKS['storage.capacity'].run(ctx({ settings: { ...settings, capacity: { ...settings.capacity, warnBytes: 10_000_000, failBytes: 20_000_000 } } }))) as { status: string }).status).toBe('pass');
    expect(((await CHECKS['storage.capacity'].run(ctx({ settings: { ...settings, capacity: { warnBytes: 1e12, failBytes: 2e12, warnFreeBytes: 0, failFreeBytes: Number.MAX_SAFE_INTEGER } } }))) as { status: string }).status).toBe('fail');
  });

  it('imports.last reports the failure code and its runbook advice', () => {
    expect(CHECKS['imports.last'].run(ctx())).toMatchObject({ status: 'warn' });
    appendAudit(db, { action: 'mirror.bundle.imported', subject: 'exp-1', details: { generation: 1 } });
    expect(CHECKS['imports.last'].run(ctx())).toMatchObject({ status: 'pass' });
    appendAudit(db, { action: 'mirror.delta.apply_failed', subject: 'exp-3', details: { errorCode: 'ERR_EXPORT_BASE_MISSING' } });
    const r = CHECKS['imports.last'].run(ctx()) as { status: string; summary: string };
    expect(r.status).toBe('fail');
    expect(r.summary).toMatch(/ERR_EXPORT_BASE_MISSING.*full export/);
  });

  it('imports.last looks at mirror imports: a good Trivy install after refused mirror imports does not make it pass; a console verification is not an import', () => {
    appendAudit(db, { action: 'mirror.bundle.imported', subject: 'exp-1', details: { generation: 1 } });
    for (let i = 0; i < 6; i++) appendAudit(db, { action: 'mirror.verify.failed', subject: `exp-${i + 2}`, details: { kind: 'mirror-delta', errorCode: 'ERR_VERIFY_DIGEST', source: 'import' } });
    appendAudit(db, { action: 'mirror.bundle.imported', subject: 'trivy-db', details: { kind: 'trivy-db' } });
    appendAudit(db, { action: 'mirror.verify.passed', subject: 'exp-9', details: { source: 'console' } });
    const r = CHECKS['imports.last'].run(ctx()) as { status: string; summary: string };
    expect(r.status).toBe('fail');
    expect(r.summary).toMatch(/exp-7.*ERR_VERIFY_DIGEST/);
    appendAudit(db, { action: 'mirror.delta.applied', subject: 'exp-2', details: { generation: 2 } });
    expect(CHECKS['imports.last'].run(ctx())).toMatchObject({ status: 'pass' });
  });

  it('kit.latest: a gap after the full bundle fails, a contiguous kit passes, a missing file fails', async () => {
    const kit = join(dir, 'kit');
    mkdirSync(join(kit, 'mirror'), { recursive: true });
    const entries = [
      { path: 'mirror/f.tar.zst', kind: 'mirror-full', generation: 1 },
      { path: 'mirror/d2.tar.zst', kind: 'mirror-delta', generation: 2 },
      { path: 'mirror/d4.tar.zst', kind: 'mirror-delta', generation: 4 },
    ];
    for (const e of entries) writeFileSync(join(kit, e.path), 'x');
    const key = generateSigningKey('ed25519');
    addTrustedKey(db, { pem: key.publicPem, tenant: 'acme', confirmFingerprint: inspectPublicKey(key.publicPem).fingerprint, reason: 'CHG-1 test key' });
    const writeManifest = () => {
      const bytes = Buffer.from(JSON.stringify({ kitVersion: 1, tenant: 'acme', createdAt: '2025-11-01T00:00:00Z', entries: entries.map((e) => ({ ...e, sha256: 'a'.repeat(64), size: 1, exportId: `e${e.generation}` })) }));
      writeFileSync(join(kit, 'offline-manifest.json'), bytes);
      writeFileSync(join(kit, 'offline-manifest.json.sig'), signatureFile(key, bytes));
    };
    writeManifest();
    const gap = await CHECKS['kit.latest'].run(ctx({ params: { kit } }));
    expect(gap.status).toBe('fail');
    expect(gap.evidence.gaps).toEqual([3]);
    entries.push({ path: 'mirror/d3.tar.zst', kind: 'mirror-delta', generation: 3 });
    writeManifest();
    expect((await CHECKS['kit.latest'].run(ctx({ params: { kit } }))).status).toBe('fail'); // listed but missing
    writeFileSync(join(kit, 'mirror/d3.tar.zst'), 'x');
    const ok = await CHECKS['kit.latest'].run(ctx({ params: { kit } }));
    expect(ok.status).toBe('pass');
    expect(ok.evidence.latestGeneration).toBe(4);
    // An edited (unsigned) manifest is never read as the kit's contents.
    writeFileSync(join(kit, 'offline-manifest.json'), JSON.stringify({ kitVersion: 1, tenant: 'acme', createdAt: 'x', entries: [] }));
    const forged = await CHECKS['kit.latest'].run(ctx({ params: { kit } }));
    expect(forged.status).toBe('fail');
    expect(forged.summary).toMatch(/ERR_VERIFY_SIGNATURE/);
    // Signed by a key pinned for another tenant: that key does not count for this kit.
    const other = generateSigningKey('ed25519');
    addTrustedKey(db, { pem: other.publicPem, tenant: 'globex', confirmFingerprint: inspectPublicKey(other.publicPem).fingerprint, reason: 'CHG-2 other tenant' });
    writeManifest();
    expect((await CHECKS['kit.latest'].run(ctx({ params: { kit } }))).status).toBe('pass');
    writeFileSync(join(kit, 'offline-manifest.json.sig'), signatureFile(other, readFileSync(join(kit, 'offline-manifest.json'))));
    const wrongTenant = await CHECKS['kit.latest'].run(ctx({ params: { kit } }));
    expect(wrongTenant.status).toBe('fail');
    expect(wrongTenant.summary).toMatch(/ERR_VERIFY_SIGNATURE/);
  });

  it('failure table lookup: codes from shared/errors.ts and symptom rows', () => {
    expect(failureLookup('ERR_EXPORT_BASE_MISSING')?.action).toMatch(/mirror:full/);
    expect(failureLookup('signing')?.symptom).toMatch(/Signing failure/);
    expect(failureLookup('retention-skipped')?.action).toMatch(/mirror retention run/);
    expect(failureLookup('ERR_NOPE')).toBeNull();
    expect(failureLookup('err_export_base_missing')?.key).toBe('ERR_EXPORT_BASE_MISSING');
    expect(failureLookup('Retention job skipped')?.key).toBe('retention-skipped');
    expect(failureLookup('CLI verification failure in CI')?.key).toBe('ci-verification');
    expect(failureLookup('Distribution failure (errorCode=distribution)')?.key).toBe('distribution');
    expect(failureLookup('ERR_WORKSPACE_BUSY')?.action).toMatch(/pid, host, since/);
  });

  it('staging.verify is "unknown" with a clear summary when the staging engine is not available', async () => {
    const r = await CHECKS['staging.verify'].run(ctx({ services: runbookServices({ ...engineRunbookServices(), staging: null }) }));
    expect(r.status).toBe('unknown');
    expect(r.summary).toMatch(/not available/);
  });
});

describe('import freeze (7.3)', () => {
  it('freezes with a reason, refuses imports with ERR_IMPORTS_FROZEN, resumes; all audited', async () => {
    expect(() => freezeImports(ws, db, '')).toThrow(/reason/);
    freezeImports(ws, db, 'INC-42 KMS outage', 'alice');
    expect(importsFrozen(db)).toBe(true);
    expect(freezeState(db)).toMatchObject({ frozen: true, reason: 'INC-42 KMS outage' });
    try {
      assertImportsNotFrozen(db);
      expect.unreachable();
    } catch (e) {
      expect(isOpsError(e) && e.code).toBe('ERR_IMPORTS_FROZEN');
    }
    // The staging engine's import refuses while frozen, before reading anything.
    const staging = await import('../staging/index');
    let refused: unknown;
    try {
      await staging.importBundles(ws, [join(KITS, 'ecdsa-p256')], { keys: [] });
    } catch (e) {
      refused = e;
    }
    expect(isOpsError(refused) && refused.code).toBe('ERR_IMPORTS_FROZEN');
    resumeImports(ws, db, 'KMS restored');
    expect(importsFrozen(db)).toBe(false);
    expect(() => assertImportsNotFrozen(db)).not.toThrow();
    // The refused import leaves its own row (what, which code).
    expect(queryAudit(db).rows.map((r) => r.action).reverse()).toEqual(['imports.frozen', 'mirror.import.refused', 'imports.resumed']);
    expect(queryAudit(db, { action: 'mirror.import.refused' }).rows[0].details).toMatchObject({ errorCode: 'ERR_IMPORTS_FROZEN' });
  });
});

describe('checklist runs', () => {
  it('daily: automated steps run, the manual step waits without an answer, the run survives a restart and resumes', async () => {
    const daily = findProcedure(procs, 'daily');
    const run = createRun(db, daily, { operator: 'alice' });
    expect(run.state).toBe('not_started');
    let r = await advanceRun(env(), run.id);
    // The first step is manual: nothing answered, so the run waits there.
    expect(r.state).toBe('in_progress');
    expect(r.blockedReason).toMatch(/Waiting for the operator at step 1/);
    expect(r.steps.every((s) => s.status === 'pending')).toBe(true);

    // "Restart": close and reopen the database, then answer.
    db.close();
    db = openDatabase(ws.layout.db);
    expect(getRun(db, run.id).state).toBe('in_progress');
    r = await advanceRun(env(), run.id, { answers: { 'review-dashboard': 'Dashboard reviewed, no failures' }, operator: 'bob' });
    expect(r.state).toBe('done');
    expect(r.steps[0]).toMatchObject({ status: 'confirmed', note: 'Dashboard reviewed, no failures' });
    expect(r.steps[0].actor).toMatch(/operator: bob/);
    const byId = Object.fromEntries(r.steps.map((s) => [s.stepId, s.status]));
    expect(byId.retention).toBe('failed'); // no retention run recorded: recorded, the checklist goes on
    expect(byId['not-frozen']).toBe('passed');
    expect(r.steps.every((s) => s.completedAt)).toBe(true);
    const stepAudits = queryAudit(db, { action: 'checklist.step.completed', limit: 100 }).rows;
    expect(stepAudits).toHaveLength(daily.steps.length);
    // Re-advancing a done run changes nothing.
    await advanceRun(env(), run.id);
    expect(queryAudit(db, { action: 'checklist.step.completed', limit: 100 }).rows).toHaveLength(daily.steps.length);
    expect(verifyAuditChain(db).ok).toBe(true);
  });

  it('a declined manual step blocks the run; "n/a: why" marks it not applicable; the change record links audit rows (9)', async () => {
    const p = findProcedure(procs, '9');
    expect(() => createRun(db, p, {})).toThrow(/needs the input "what"/);
    const key = appendAudit(db, { action: 'keys.added', subject: 'acme/sha256:x', details: { reason: 'CHG-5' } });
    const run = createRun(db, p, { operator: 'alice', inputs: { what: 'new tenant globex', why: 'contract 2026; bundles ~2 GiB', approver: 'J. Doe, CHG-5' } });
    let r = await advanceRun(env(), run.id, { answers: { impact: 'globex: +2 GiB per full', tested: 'no' } });
    expect(r.state).toBe('blocked');
    expect(r.steps[1]).toMatchObject({ status: 'declined', confirmation: 'answers-file' });
    // A misspelled step id is refused, naming the valid ones; a list answer is refused plainly.
    await expect(advanceRun(env(), run.id, { answers: { testd: 'yes' } })).rejects.toThrow(/"testd".*impact, tested, coordinated, docs/);
    await expect(advanceRun(env(), run.id, { answers: { tested: ['a', 'b'] as unknown as string } })).rejects.toThrow(/is a list/);
    r = await advanceRun(env(), run.id, { answers: { tested: 'n/a: the transfer path does not change', coordinated: 'N/A because no schema change', docs: 'yes' } });
    expect(r.state, r.blockedReason ?? '').toBe('done');
    expect(r.steps[1]).toMatchObject({ status: 'not_applicable', note: 'the transfer path does not change' });
    expect(r.steps[2]).toMatchObject({ status: 'not_applicable', note: 'no schema change' });
    const rec = queryAudit(db, { action: 'change.recorded' }).rows[0];
    expect(rec.details).toMatchObject({ what: 'new tenant globex', approver: 'J. Doe, CHG-5', auditRows: [key.id] });
    expect(runOutcome(r)).toBe('pass');
  });

  it('singleStep completes one step at a time (the UI), and the service maps the run view', async () => {
    const p = findProcedure(procs, 'change-record');
    const run = createRun(db, p, { inputs: { what: 'w', why: 'because', approver: 'ann' } });
    let r = await advanceRun(env(), run.id, { singleStep: true, answersVia: 'prompt', answers: { impact: { confirm: true, note: 'none' } } });
    expect(r.steps.map((s) => s.status)).toEqual(['confirmed', 'pending', 'pending', 'pending', 'pending']);
    expect(r.steps[0].confirmation).toBe('prompt');
    expect(toChecklistRunView(r, procs).nextStepId).toBe('tested');
    r = await advanceRun(env(), run.id, { singleStep: true, answers: { tested: { confirm: true, note: 'called' } } });
    expect(r.steps[1]).toMatchObject({ status: 'confirmed', note: 'called' });
    expect(r.steps[2].status).toBe('pending');
    r = await advanceRun(env(), run.id, { answers: { coordinated: true, docs: true } });
    expect(r.state).toBe('done');
    const view = toChecklistRunView(r, procs);
    expect(view.nextStepId).toBeNull();
    expect(view).toMatchObject({ runId: run.id, checklistId: 'change-record', state: 'done' });
    expect(view.steps[1]).toMatchObject({ id: 'tested', type: 'manual', status: 'confirmed', note: 'called' });
  });

  it('a note-required step without a note stays waiting', async () => {
    const p = findProcedure(procs, 'kms-outage');
    const run = createRun(db, p, { inputs: { reason: 'INC-8' } });
    const r = await advanceRun(env(), run.id, { yes: true });
    expect(r.state).toBe('in_progress');
    expect(r.blockedReason).toMatch(/needs a note/);
  });

  it('exports evidence as JSON and a standalone HTML page; --yes steps are marked yes-flag; signed with --sign-key', async () => {
    const p = findProcedure(procs, 'weekly');
    const run = createRun(db, p, { operator: 'alice <script>' });
    await advanceRun(env(), run.id, { yes: true });
    const key = generateSigningKey('ed25519');
    const keyFile = join(dir, 'sign.pem');
    writeFileSync(keyFile, key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const out = exportRunEvidence(ws, db, run.id, procs, undefined, { signWith: keyFile });
    expect(out.json.startsWith(ws.layout.evidence)).toBe(true);
    const j = JSON.parse(readFileSync(out.json, 'utf8'));
    expect(j.run.state).toBe('done');
    const manual = j.run.steps.filter((x: { kind: string }) => x.kind === 'manual');
    expect(manual.length).toBeGreaterThan(0);
    for (const m of manual) {
      expect(m.confirmation).toBe('yes-flag');
      expect(m.evidence.confirmation).toBe('yes-flag');
      expect(m.summary).not.toBe('Confirmed by the operator.');
    }
    expect(j.audit.rows.map((r: { subject: string }) => r.subject)).toEqual(p.steps.map((s) => `${run.id}/${s.id}`));
    expect(j.audit.rows.filter((r: { details: { confirmation?: string } }) => r.details.confirmation === 'yes-flag')).toHaveLength(manual.length);
    const html = readFileSync(out.html, 'utf8');
    expect(html).toContain('<!doctype html>');
    expect(html).toContain('confirmed in bulk with --yes');
    expect(html).not.toContain('<script>');
    expect(html).toContain('alice &lt;script&gt;');
    // Detached signatures over both files, verifiable with the public key.
    const { verify, createPublicKey } = await import('node:crypto');
    for (const f of [out.json, out.html]) {
      const sig = Buffer.from(readFileSync(`${f}.sig`, 'utf8').trim(), 'base64');
      expect(verify(null, readFileSync(f), createPublicKey(key.publicPem), sig)).toBe(true);
    }
    // The evidence records the chain head: the log must still reach it later.
    expect(readExportHead(out.json)).toEqual(j.audit.chainHead);
    expect(verifyAuditChain(db, { against: readExportHead(out.json) }).ok).toBe(true);
  });
});

// ------------------------------------------------------------ restore playbook end to end (real staging engine)

const KIT = join(KITS, 'ecdsa-p256');
const PUB = join(KITS, 'ecdsa-p256.trusted.pub');

function findPayloadFile(root: string): string | null {
  for (const name of readdirSync(root)) {
    const p = join(root, name);
    const st = statSync(p);
    if (st.isDirectory()) {
      const f = findPayloadFile(p);
      if (f) return f;
    } else if (/\.jsonl\.zst$|sbom\.json$/.test(name)) return p;
  }
  return null;
}

describe('runbook checks use the one trust policy (resolveTrust), given by the composition root', () => {
  const tenantOf = (): string => (JSON.parse(readFileSync(join(KIT, 'offline-manifest.json'), 'utf8')) as { tenant: string }).tenant;
  const pinFor = (tenant: string, reason: string) => {
    const pem = readFileSync(PUB, 'utf8');
    addTrustedKey(db, { pem, tenant, confirmFingerprint: inspectPublicKey(pem).fingerprint, reason });
  };

  it.skipIf(!existsSync(KIT))('a key pinned for another tenant does not satisfy a check for the kit\'s tenant', async () => {
    const tenant = tenantOf();
    pinFor(`${tenant}-other`, 'CHG-1 key of another tenant');
    const latest = await CHECKS['kit.latest'].run(ctx({ params: { kit: KIT } }));
    expect(latest.status).toBe('fail');
    expect(latest.summary).toMatch(/ERR_VERIFY_SIGNATURE/);
    expect(latest.summary).toMatch(/another tenant/);
    const captured = await CHECKS['evidence.capture_manifests'].run(ctx({ params: { path: KIT }, runId: 'other-tenant' }));
    expect(captured.status).toBe('fail');
    expect(existsSync(join(ws.layout.evidence, 'other-tenant'))).toBe(false);
    const asked = await CHECKS['bundle.verify'].run(ctx({ params: { path: KIT, tenant } }));
    expect(asked.status).toBe('fail');
    expect(asked.summary).toMatch(new RegExp(`No trusted key for tenant ${tenant}`));
    const any = await CHECKS['bundle.verify'].run(ctx({ params: { path: KIT } }));
    expect(any.status).toBe('fail');
    // Pinned for its own tenant, the same key verifies the same kit (the control).
    pinFor(tenant, 'CHG-2 the tenant\'s own key');
    expect((await CHECKS['kit.latest'].run(ctx({ params: { kit: KIT } }))).status).toBe('pass');
    expect((await CHECKS['bundle.verify'].run(ctx({ params: { path: KIT, tenant } }))).status).not.toBe('fail');
  });

  it.skipIf(!existsSync(KIT))('a key written into the trust store outside the console (no audited keys.added) satisfies no check', async () => {
    const tenant = tenantOf();
    const pem = readFileSync(PUB, 'utf8');
    const fp = inspectPublicKey(pem).fingerprint;
    db.prepare("INSERT INTO trusted_keys (tenant, fingerprint, algorithm, pem, label, added_at, added_by, reason) VALUES (?, ?, 'ecdsa-p256', ?, NULL, '2026-01-01T00:00:00.000Z', 'root', 'CHG-1 planted')").run(tenant, fp, pem);
    for (const [name, params] of [
      ['kit.latest', { kit: KIT }],
      ['bundle.verify', { path: KIT, tenant }],
      ['evidence.capture_manifests', { path: KIT }],
      ['keys.tenants', {}],
    ] as const) {
      const r = await CHECKS[name].run(ctx({ params: { ...params }, runId: 'planted' }));
      expect(r.status, `${name}: ${r.summary}`).toBe('fail');
      expect(r.summary, name).toMatch(/ERR_VERIFY_SIGNATURE|trust store/);
    }
    expect(existsSync(join(ws.layout.evidence, 'planted'))).toBe(false);
  });

  it('the checks get their trust from the services they are given (the composition root passes resolveTrust)', async () => {
    const asked: (string | undefined)[] = [];
    const services = runbookServices({
      ...engineRunbookServices(),
      trust: (_db, input = {}) => {
        asked.push(input.tenant);
        return { keys: [], identities: [], pinned: 0, explicit: 0, note: 'none' };
      },
    });
    writeFileSync(join(dir, 'b.tar.zst'), 'x');
    const r = await CHECKS['bundle.verify'].run(ctx({ services, params: { path: join(dir, 'b.tar.zst'), tenant: 'acme' } }));
    expect(r.status).toBe('fail');
    expect(r.summary).toMatch(/No trusted key for tenant acme/);
    expect(asked).toEqual(['acme']);
  });
});

describe('restore playbook (7.2) on the fixture kit', () => {
  it.skipIf(!existsSync(KIT))('locates the last full, verifies it, applies it and the deltas in order, and the tree verifies', async () => {
    const staging = await import('../staging/index');
    const pem = readFileSync(PUB, 'utf8');
    const manifest = JSON.parse(readFileSync(join(KIT, 'offline-manifest.json'), 'utf8')) as { tenant: string };
    addTrustedKey(db, { pem, tenant: manifest.tenant, confirmFingerprint: inspectPublicKey(pem).fingerprint, reason: 'CHG-1 trust fixture key' });
    db.close();
    const { listTrustedKeys } = await import('../keys/index');
    let keys;
    {
      const d = openDatabase(ws.layout.db);
      keys = listTrustedKeys(d);
      d.close();
    }
    const imported = await staging.importBundles(ws, [KIT], { keys });
    expect(imported.ok, imported.message).toBe(true);
    const top = imported.current!;
    expect(top.generation).toBe(3);
    db = openDatabase(ws.layout.db);

    // Damage the staging tree (hard-linked generations share it): the daily check now fails.
    const victim = findPayloadFile(ws.layout.current);
    expect(victim).not.toBeNull();
    appendFileSync(victim!, 'tampered');
    const before = await CHECKS['staging.verify'].run(ctx());
    expect(before.status).toBe('fail');
    // A damaged tree is answered with rollback / restore, not "copy the bundle again".
    expect(before.summary).toMatch(/mirror rollback.*7\.2/);
    expect(before.summary).not.toMatch(/[Cc]opy the bundle again/);

    const p = findProcedure(procs, 'restore-previous-full');
    const run = createRun(db, p, { operator: 'alice', inputs: { reason: 'INC-11 staging damaged' } });
    const r = await advanceRun(env(), run.id);
    expect(r.state, r.blockedReason ?? '').toBe('done');
    const byId = Object.fromEntries(r.steps.map((s) => [s.stepId, s]));
    expect(byId.locate.status).toBe('passed');
    expect((byId.locate.evidence as { files: unknown[] }).files).toHaveLength(3);
    expect(byId['verify-chain'].status).toBe('passed');
    expect(byId.apply.status).toBe('passed');
    expect((byId.apply.evidence as { items: { generation: number; outcome: string }[] }).items.map((i) => i.generation)).toEqual([1, 2, 3]);
    expect(byId['verify-tree'].status).toBe('passed');
    const after = await staging.verifyStagingTree(ws);
    expect(after.ok).toBe(true);
    expect(after.generation).toBe(3);
    const forced = queryAudit(db, { action: 'mirror.import.forced' }).rows;
    expect(forced.length).toBeGreaterThan(0);
    expect(JSON.stringify(forced[0].details)).toContain('INC-11 staging damaged');
    expect(verifyAuditChain(db).ok).toBe(true);
  });

  it.skipIf(!existsSync(KIT))('a bad delta in the library: the restore changes nothing, blocks naming the bundle and its code, and offers rollback / re-copy', async () => {
    const staging = await import('../staging/index');
    const { listTrustedKeys } = await import('../keys/index');
    const pem = readFileSync(PUB, 'utf8');
    const manifest = JSON.parse(readFileSync(join(KIT, 'offline-manifest.json'), 'utf8')) as { tenant: string };
    addTrustedKey(db, { pem, tenant: manifest.tenant, confirmFingerprint: inspectPublicKey(pem).fingerprint, reason: 'CHG-1 trust fixture key' });
    const keys = listTrustedKeys(db);
    db.close();
    expect((await staging.importBundles(ws, [KIT], { keys })).current!.generation).toBe(3);
    db = openDatabase(ws.layout.db);
    const before = staging.currentGeneration(db)!;
    const lib2 = staging.listLibrary(db).find((l) => l.generation === 2)!;
    const file2 = join(ws.dir, lib2.file);
    const bytes = readFileSync(file2);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    writeFileSync(file2, bytes);

    const p = findProcedure(procs, '7.2');
    const run = createRun(db, p, { operator: 'alice', inputs: { reason: 'INC-12 staging suspect' } });
    const r = await advanceRun(env(), run.id, { yes: true });
    expect(r.state).toBe('blocked');
    const chain = r.steps.find((s) => s.stepId === 'verify-chain')!;
    expect(chain.status).toBe('failed');
    expect(r.blockedReason).toContain(lib2.name);
    expect(r.blockedReason).toMatch(/ERR_(BUNDLE_CORRUPT|VERIFY_DIGEST|VERIFY_SIGNATURE)/);
    expect(r.blockedReason).not.toMatch(/ERR_EXPORT_BASE_MISSING/);
    expect(r.blockedReason).toMatch(/Staging stays at generation 3/);
    const plan = (chain.evidence as { plan: { bad: { sha256: string; generation: number }; offers: { kind: string }[] } }).plan;
    expect(plan.bad).toMatchObject({ sha256: lib2.sha256, generation: 2 });
    expect(plan.offers.map((o) => o.kind)).toContain('recopy');
    expect(plan.offers.map((o) => o.kind)).toContain('rollback');
    expect(r.steps.find((s) => s.stepId === 'apply')!.status).toBe('pending');
    // Staging is exactly where it was.
    const after = staging.currentGeneration(db)!;
    expect(after.seq).toBe(before.seq);
    expect(after.generation).toBe(3);
    expect((await staging.verifyStagingTree(ws)).ok).toBe(true);

    // Even forced past the preview, the apply is all or nothing (the import re-verifies in its own read).
    const { restoreApply } = await import('./index');
    const direct = await restoreApply(ws, db, { reason: 'INC-12 try anyway', keys, engines: engineRunbookServices() });
    expect(direct.ok).toBe(false);
    expect(direct.code).not.toBe('ERR_EXPORT_BASE_MISSING');
    expect(direct.plan.bad?.name).toBe(lib2.name);
    expect(staging.currentGeneration(db)!.seq).toBe(before.seq);
    const st = await staging.workspaceStatus(ws);
    expect(st.generation).toBe(3);

    // The same through the typed jobs the app's restore wizard runs (preview, then apply with a reason).
    const { runJobInWorker } = await import('../jobs/index');
    const jctx = { jobId: 'restore-test', signal: new AbortController().signal, onProgress: () => {} };
    const preview = await runJobInWorker('restore.preview', { workspaceDir: ws.dir }, jctx);
    expect(preview.ok).toBe(false);
    expect(preview.bad?.name).toBe(lib2.name);
    const applied = await runJobInWorker('restore.apply', { workspaceDir: ws.dir, reason: 'INC-12 from the app' }, jctx);
    expect(applied.ok).toBe(false);
    expect(applied.current?.generation).toBe(3);
    expect(staging.currentGeneration(db)!.seq).toBe(before.seq);
  });

  it.skipIf(!existsSync(KIT))('a restore that fails part-way (disk full on the second bundle) returns staging to the generation it held', async () => {
    const staging = await import('../staging/index');
    const { listTrustedKeys } = await import('../keys/index');
    const pem = readFileSync(PUB, 'utf8');
    const manifest = JSON.parse(readFileSync(join(KIT, 'offline-manifest.json'), 'utf8')) as { tenant: string };
    addTrustedKey(db, { pem, tenant: manifest.tenant, confirmFingerprint: inspectPublicKey(pem).fingerprint, reason: 'CHG-1' });
    const keys = listTrustedKeys(db);
    expect((await staging.importBundles(ws, [KIT], { keys })).current!.generation).toBe(3);
    const before = staging.currentGeneration(db)!;
    const files = staging.listLibrary(db).filter((l) => l.kind.startsWith('mirror-')).sort((a, b) => a.generation! - b.generation!).map((l) => join(ws.dir, l.file));
    let builds = 0;
    const res = await staging.importBundles(ws, files, {
      keys,
      forceReason: 'INC-30 restore drill',
      allOrNothing: true,
      hooks: {
        checkpoint: (step) => {
          if (step === 'build:mkdir' && ++builds === 2) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        },
      },
    });
    expect(res.ok).toBe(false);
    expect(res.code).toBe('ERR_NO_SPACE');
    expect(res.warnings.join(' ')).toMatch(/back at generation 3/);
    const after = staging.currentGeneration(db)!;
    expect(after.generation).toBe(3);
    expect(after.state_digest).toBe(before.state_digest);
    expect((await staging.verifyStagingTree(ws)).ok).toBe(true);
  });

  it.skipIf(!existsSync(KIT))('pre-release (4.3) on the kit and weekly verification of the library after importing it', async () => {
    const staging = await import('../staging/index');
    const { listTrustedKeys } = await import('../keys/index');
    const pem = readFileSync(PUB, 'utf8');
    const manifest = JSON.parse(readFileSync(join(KIT, 'offline-manifest.json'), 'utf8')) as { tenant: string };
    addTrustedKey(db, { pem, tenant: manifest.tenant, confirmFingerprint: inspectPublicKey(pem).fingerprint, reason: 'CHG-1 trust fixture key' });
    const keys = listTrustedKeys(db);
    db.close();
    const imported = await staging.importBundles(ws, [KIT], { keys });
    expect(imported.ok, imported.message).toBe(true);
    db = openDatabase(ws.layout.db);

    const pre = findProcedure(procs, 'pre-release');
    const run = createRun(db, pre, { operator: 'rm', inputs: { kit: KIT, tenant: manifest.tenant } });
    const r = await advanceRun(env(), run.id, { answers: { 'sign-off': 'Approved by J. Doe, CHG-77' } });
    const byId = Object.fromEntries(r.steps.map((x) => [x.stepId, x]));
    expect(r.state, r.blockedReason ?? '').toBe('done');
    // The kit verifies (its warnings, e.g. a stale Trivy NextUpdate, make it "warned", never failed).
    expect(['passed', 'warned']).toContain(byId.verify.status);
    expect((byId.verify.evidence as { ok: boolean; kind: string }).ok).toBe(true);
    expect((byId.verify.evidence as { ok: boolean; kind: string }).kind).toBe('kit');
    expect(byId['kit-latest'].status).toBe('passed');
    expect(byId['kit-latest'].summary).toMatch(/2 delta\(s\)/);
    expect(byId.manifests.status).toBe('passed');
    const files = (byId.manifests.evidence as { files: string[] }).files;
    expect(files.map((f) => f.split('/').pop())).toEqual(['export.json', 'manifest.yaml']);
    expect(files.every((f) => f.startsWith(ws.layout.evidence))).toBe(true);
    const exp = JSON.parse(readFileSync(files[0], 'utf8')) as { generation: number; tenant: string };
    expect(exp).toMatchObject({ generation: 3, tenant: manifest.tenant });

    const weekly = await CHECKS['bundles.verify_recent'].run(ctx());
    expect(weekly.status, weekly.summary).toBe('pass');
    expect(await CHECKS['keys.tenants'].run(ctx())).toMatchObject({ status: 'pass' });
    const fresh = await CHECKS['data.freshness'].run(ctx({ now: new Date('2025-11-02T12:00:00Z'), settings: { ...ws.settings, stalenessHours: 24 * 365 } }));
    expect(['pass', 'warn', 'unknown']).toContain(fresh.status);
    // A host clock earlier than the data already seen: freshness is unknown.
    expect((await CHECKS['data.freshness'].run(ctx({ now: new Date('2020-01-01T00:00:00Z') }))).status).toBe('unknown');
    // Far in the future: stale.
    expect((await CHECKS['data.freshness'].run(ctx({ now: new Date('2999-01-01T00:00:00Z') }))).status).toBe('fail');
  });

  it.skipIf(!existsSync(KIT))('a runbook check reads only verified bytes: a swapped bundle in a kit is refused and nothing is captured', async () => {
    const { cpSync } = await import('node:fs');
    const pem = readFileSync(PUB, 'utf8');
    const manifest = JSON.parse(readFileSync(join(KIT, 'offline-manifest.json'), 'utf8')) as { tenant: string; entries: { path: string; generation?: number }[] };
    addTrustedKey(db, { pem, tenant: manifest.tenant, confirmFingerprint: inspectPublicKey(pem).fingerprint, reason: 'CHG-1 trust fixture key' });
    const kit = join(dir, 'kit-copy');
    cpSync(KIT, kit, { recursive: true });
    const g3 = manifest.entries.find((e) => e.generation === 3)!.path;
    const g2 = manifest.entries.find((e) => e.generation === 2)!.path;
    // The newest bundle is replaced by another genuinely signed bundle (generation 2): signatures alone pass.
    writeFileSync(join(kit, g3), readFileSync(join(kit, g2)));
    const r = await CHECKS['evidence.capture_manifests'].run(ctx({ params: { path: kit }, runId: 'swap-test' }));
    expect(r.status).toBe('fail');
    expect(r.summary).toMatch(/ERR_VERIFY_DIGEST/);
    expect(existsSync(join(ws.layout.evidence, 'swap-test'))).toBe(false);
    // The unswapped kit captures both manifests from the verified read.
    const ok = await CHECKS['evidence.capture_manifests'].run(ctx({ params: { path: KIT }, runId: 'ok-test' }));
    expect(ok.status, ok.summary).toBe('pass');
    expect((ok.evidence as { files: string[] }).files.map((f) => f.split('/').pop())).toEqual(['export.json', 'manifest.yaml']);
  });

  it.skipIf(!existsSync(KIT))('KMS outage (7.3): new bundles verify and the catch-up import are automated; the evidence holds the run\'s freeze/resume rows', async () => {
    const staging = await import('../staging/index');
    const pem = readFileSync(PUB, 'utf8');
    const manifest = JSON.parse(readFileSync(join(KIT, 'offline-manifest.json'), 'utf8')) as { tenant: string };
    addTrustedKey(db, { pem, tenant: manifest.tenant, confirmFingerprint: inspectPublicKey(pem).fingerprint, reason: 'CHG-1' });
    const p = findProcedure(procs, '7.3');
    const run = createRun(db, p, { operator: 'alice', inputs: { reason: 'INC-20 KMS down', catchup: KIT } });
    const r = await advanceRun(env(), run.id, { answers: { coordinate: 'Authority Core, ETA 1h' } });
    expect(r.state, r.blockedReason ?? '').toBe('done');
    const byId = Object.fromEntries(r.steps.map((x) => [x.stepId, x]));
    expect(['passed', 'warned']).toContain(byId['new-bundles-verify'].status);
    expect(byId['catch-up'].status).toBe('passed');
    expect(byId['verify-tree'].status).toBe('passed');
    expect(importsFrozen(db)).toBe(false);
    expect(staging.currentGeneration(db)!.generation).toBe(3);
    const ev = exportRunEvidence(ws, db, run.id, procs);
    const actions = ev.report.audit.rows.map((x) => x.action);
    expect(actions).toContain('imports.frozen');
    expect(actions).toContain('imports.resumed');
  });

  it.skipIf(!existsSync(KIT))('weekly (4.2) fails on a corrupted Trivy bundle in the library; 5.2 retention previews, prunes and reports metrics', async () => {
    const staging = await import('../staging/index');
    const { listTrustedKeys } = await import('../keys/index');
    const pem = readFileSync(PUB, 'utf8');
    const manifest = JSON.parse(readFileSync(join(KIT, 'offline-manifest.json'), 'utf8')) as { tenant: string };
    addTrustedKey(db, { pem, tenant: manifest.tenant, confirmFingerprint: inspectPublicKey(pem).fingerprint, reason: 'CHG-1' });
    const keys = listTrustedKeys(db);
    expect((await staging.importBundles(ws, [KIT], { keys })).ok).toBe(true);
    const good = await CHECKS['bundles.verify_recent'].run(ctx());
    expect(good.status, good.summary).toBe('pass');
    const trivy = staging.listLibrary(db).find((l) => l.kind === 'trivy-db');
    expect(trivy, 'the fixture kit holds a Trivy DB bundle').toBeDefined();
    const f = join(ws.dir, trivy!.file);
    const b = readFileSync(f);
    b[b.length - 10] ^= 0xff;
    writeFileSync(f, b);
    const bad = await CHECKS['bundles.verify_recent'].run(ctx());
    expect(bad.status).toBe('fail');
    expect(bad.summary).toMatch(/trivy-db.*ERR_VERIFY_DIGEST/);
    const { metricValue } = await import('../obs/index');
    expect(metricValue(ws, 'verify_failures_total', { error_code: 'ERR_VERIFY_DIGEST' })).toBe(1);

    const ret = findProcedure(procs, '5.2');
    const run = createRun(db, ret, { operator: 'alice' });
    const r = await advanceRun(env(), run.id, { answers: { confirm: 'Preview checked: latest full and deltas kept' } });
    expect(r.state, r.blockedReason ?? '').toBe('done');
    expect(r.steps.map((x) => x.stepId)).toEqual(['preview', 'confirm', 'prune', 'metrics', 'storage']);
    expect(r.steps[0].status).toBe('passed');
    expect(r.steps[2].status).toBe('passed');
    expect(r.steps[3].status).toBe('passed');
    expect(queryAudit(db, { action: 'retention.run' }).rows).toHaveLength(1);
    expect((await CHECKS['retention.recent'].run(ctx())).status).toBe('pass');
  });

  it.skipIf(!existsSync(KIT))('8.2 on a damaged bundle: the failure is counted in okc_verify_failures_total, logged and audited', async () => {
    const pem = readFileSync(PUB, 'utf8');
    const manifest = JSON.parse(readFileSync(join(KIT, 'offline-manifest.json'), 'utf8')) as { tenant: string; entries: { path: string; generation?: number }[] };
    addTrustedKey(db, { pem, tenant: manifest.tenant, confirmFingerprint: inspectPublicKey(pem).fingerprint, reason: 'CHG-1' });
    const bad = join(dir, 'damaged.tar.zst');
    const bytes = readFileSync(join(KIT, manifest.entries.find((e) => e.generation === 1)!.path));
    bytes[Math.floor(bytes.length / 2)] ^= 0x40;
    writeFileSync(bad, bytes);
    const { metricValue, readLogs } = await import('../obs/index');
    const p = findProcedure(procs, '8.2');
    const run = createRun(db, p, { operator: 'alice', inputs: { path: bad } });
    const r = await advanceRun(env(), run.id, { yes: true });
    expect(r.state).toBe('blocked');
    const code = (r.steps[0].evidence as { code: string }).code;
    expect(code).toMatch(/^ERR_/);
    expect(metricValue(ws, 'verify_failures_total', { error_code: code })).toBe(1);
    expect(readLogs(ws).some((l) => l.event === 'mirror.verify.failed' && l.runId === run.id)).toBe(true);
    expect(queryAudit(db, { action: 'mirror.verify.failed' }).rows[0].details).toMatchObject({ source: 'checklist', runId: run.id, errorCode: code });
    // The daily log scan sees it until acknowledged.
    expect((await CHECKS['logs.scan'].run(ctx({ now: new Date(Date.now() + 1000) }))).status).toBe('fail');
  });

  it.skipIf(!existsSync(KIT))('a refused bundle is audited with sha256, size, signer and code; a refused full bundle is not logged as a failed delta', async () => {
    const staging = await import('../staging/index');
    const { listTrustedKeys } = await import('../keys/index');
    const { createHash } = await import('node:crypto');
    const { readLogs } = await import('../obs/index');
    const pem = readFileSync(PUB, 'utf8');
    const manifest = JSON.parse(readFileSync(join(KIT, 'offline-manifest.json'), 'utf8')) as { tenant: string; entries: { path: string; generation?: number }[] };
    addTrustedKey(db, { pem, tenant: manifest.tenant, confirmFingerprint: inspectPublicKey(pem).fingerprint, reason: 'CHG-1' });
    const keys = listTrustedKeys(db);
    const full = join(KIT, manifest.entries.find((e) => e.generation === 1)!.path);
    const bad = join(dir, 'mirror-full-damaged.tar.zst');
    const bytes = readFileSync(full);
    bytes[Math.floor(bytes.length / 2)] ^= 0x40;
    writeFileSync(bad, bytes);
    const r = await staging.importBundles(ws, [bad], { keys });
    expect(r.ok).toBe(false);
    const row = queryAudit(db, { action: 'mirror.verify.failed' }).rows[0];
    expect(row.details).toMatchObject({ path: bad, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, errorCode: r.code, source: 'import' });
    expect(Array.isArray(row.details.signedBy)).toBe(true);
    // Replaying the good full bundle over itself: a refused full bundle, never "mirror.delta.apply_failed".
    expect((await staging.importBundles(ws, [full], { keys })).ok).toBe(true);
    const replay = await staging.importBundles(ws, [full], { keys });
    expect(replay.code).toBe('ERR_IMPORT_NON_MONOTONIC');
    const events = readLogs(ws).map((l) => l.event);
    expect(events).toContain('mirror.full.apply_failed');
    expect(events).not.toContain('mirror.delta.apply_failed');
    const fullRow = queryAudit(db, { action: 'mirror.full.apply_failed' }).rows[0];
    expect(fullRow.details).toMatchObject({ kind: 'mirror-full', errorCode: 'ERR_IMPORT_NON_MONOTONIC', size: readFileSync(full).length });
    expect((fullRow.details.signedBy as string[]).length).toBeGreaterThan(0);
  });

  it.skipIf(!existsSync(KIT))('replay a failed apply (7.1): identify it with its advice, fix the cause, replay through the staging engine', async () => {
    const staging = await import('../staging/index');
    const { listTrustedKeys } = await import('../keys/index');
    const pem = readFileSync(PUB, 'utf8');
    const manifest = JSON.parse(readFileSync(join(KIT, 'offline-manifest.json'), 'utf8')) as { tenant: string; entries: { path: string; generation?: number }[] };
    addTrustedKey(db, { pem, tenant: manifest.tenant, confirmFingerprint: inspectPublicKey(pem).fingerprint, reason: 'CHG-1' });
    const keys = listTrustedKeys(db);
    db.close();
    const file = (g: number) => join(KIT, manifest.entries.find((e) => e.generation === g)!.path);
    expect((await staging.importBundles(ws, [file(1)], { keys })).ok).toBe(true);
    // Generation 3 without 2: refused for a gap, recorded as a failed apply.
    const gap = await staging.importBundles(ws, [file(3)], { keys });
    expect(gap.ok).toBe(false);
    expect(gap.code).toBe('ERR_EXPORT_BASE_MISSING');
    db = openDatabase(ws.layout.db);

    const p = findProcedure(procs, 'replay-failed-apply');
    const run = createRun(db, p, { operator: 'alice' });
    let r = await advanceRun(env(), run.id);
    expect(r.steps[0].status).toBe('warned');
    expect(r.steps[0].summary).toMatch(/ERR_EXPORT_BASE_MISSING/);
    expect((r.steps[0].evidence as { advice: { action: string } }).advice.action).toMatch(/missing deltas/);
    expect(r.state).toBe('in_progress'); // waiting for the operator to fix the cause

    // The operator fixes the cause: brings in the missing delta.
    db.close();
    expect((await staging.importBundles(ws, [file(2)], { keys })).ok).toBe(true);
    db = openDatabase(ws.layout.db);
    r = await advanceRun(env(), run.id, { answers: { 'fix-cause': 'Imported the missing generation 2 from the kit', cleanup: 'yes' } });
    expect(r.state, r.blockedReason ?? '').toBe('done');
    const replay = r.steps.find((s) => s.stepId === 'replay')!;
    expect(replay.status).toBe('passed');
    expect((replay.evidence as { current: { generation: number } }).current.generation).toBe(3);
    expect(r.steps.find((s) => s.stepId === 'verify-tree')!.status).toBe('passed');
  });
});
