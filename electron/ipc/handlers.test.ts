import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHANNELS, CONTRACT, type AuditPage, type ChecklistRunView, type ChecklistSummary, type AuditVerifyResult, type Envelope, type JobInfo, type LibraryEntry, type Topic, type Topics, type WorkspaceStatusView } from '../../shared/contract';
import { generatedPayload, generateSigningKey, writeMirrorBundle } from '../services/producer/index';
import { KITS, REPO_ROOT, tempDir } from '../services/testing/fixtures';
import { writePqBundle } from '../services/testing/pq';
import { workerExec } from './engine';
import { openDatabase } from '../services/db/index';
import { getRun, loadProcedures, toChecklistRunView, toChecklistSummary } from '../services/runbooks/index';
import { createHandlers, isTrustedSenderUrl, registerHandlers, type Handlers, type IpcEventLike, type IpcMainLike } from './handlers';

type Listener = (event: IpcEventLike, input: unknown) => Promise<unknown>;

/** A fake ipcMain: a registry of channel → listener, invoked like Electron does. */
class FakeIpcMain implements IpcMainLike {
  readonly listeners = new Map<string, Listener>();
  handle(channel: string, listener: Listener): void {
    if (this.listeners.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    this.listeners.set(channel, listener);
  }
  async invoke(channel: string, input: unknown, url = 'app://console/index.html'): Promise<Envelope<unknown>> {
    const l = this.listeners.get(channel);
    if (!l) throw new Error(`No handler registered for '${channel}'`);
    return (await l({ senderFrame: { url } }, input)) as Envelope<unknown>;
  }
}

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

describe('IPC contract and handler table', () => {
  let tmp: { dir: string; cleanup: () => void };
  let handlers: Handlers;
  let ipc: FakeIpcMain;
  let events: { topic: Topic; payload: unknown }[];

  beforeEach(() => {
    tmp = tempDir('okc-ipc-');
    events = [];
    handlers = createHandlers({
      workspaceDir: join(tmp.dir, 'ws'),
      emit: <T extends Topic>(topic: T, payload: Topics[T]) => events.push({ topic, payload }),
    });
    ipc = new FakeIpcMain();
    registerHandlers(ipc, handlers.table, { isTrustedSender: (e) => isTrustedSenderUrl(e.senderFrame?.url, join(REPO_ROOT, 'dist/renderer')) });
  });

  afterEach(async () => {
    await handlers.dispose();
    tmp.cleanup();
  });

  it('has a handler and a zod schema for every contract channel, and registers exactly those', () => {
    expect(CHANNELS.length).toBeGreaterThanOrEqual(20);
    for (const ch of CHANNELS) {
      expect(typeof handlers.table[ch], ch).toBe('function');
      expect(typeof CONTRACT[ch].input.safeParse, ch).toBe('function');
    }
    expect([...ipc.listeners.keys()].sort()).toEqual([...CHANNELS].sort());
    expect(Object.keys(handlers.table).sort()).toEqual([...CHANNELS].sort());
  });

  it('app.info round-trips through the registered table with a real temp workspace', async () => {
    const r = await ipc.invoke('app.info', {});
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const info = r.value as { version: string; workspacePath: string; versions: { node: string } };
    expect(info.version).toBe(pkg.version);
    expect(info.workspacePath).toBe(join(tmp.dir, 'ws'));
    expect(info.versions.node).toBe(process.versions.node);
    // The workspace was really created on disk.
    const manifest = JSON.parse(readFileSync(join(tmp.dir, 'ws', 'workspace.json'), 'utf8')) as { format: number };
    expect(manifest.format).toBe(1);
  });

  it('refuses bad input with ERR_IPC_INPUT and the zod message', async () => {
    const noPaths = await ipc.invoke('import.start', { paths: [] });
    expect(noPaths.ok).toBe(false);
    if (noPaths.ok) return;
    expect(noPaths.error.code).toBe('ERR_IPC_INPUT');
    expect(noPaths.error.message).toContain('Choose at least one bundle');

    const badFp = await ipc.invoke('keys.add', { pem: 'x', tenant: 'acme', fingerprint: 'md5:abc', reason: 'change 42' });
    expect(badFp.ok).toBe(false);
    if (!badFp.ok) {
      expect(badFp.error.code).toBe('ERR_IPC_INPUT');
      expect(badFp.error.message).toContain('fingerprint');
    }

    const extra = await ipc.invoke('verify.start', { path: '/x', evil: true });
    expect(extra.ok ? null : extra.error.code).toBe('ERR_IPC_INPUT');

    const wrongType = await ipc.invoke('audit.list', { page: 'one' });
    expect(wrongType.ok ? null : wrongType.error.code).toBe('ERR_IPC_INPUT');
  });

  it('refuses an untrusted sender with ERR_IPC_SENDER and does not run the handler', async () => {
    for (const url of ['https://evil.example/', 'file:///tmp/other/index.html', 'app://other/index.html', 'data:text/html,hi']) {
      const r = await ipc.invoke('settings.set', { settings: { keepGenerations: 7 }, reason: 'CHG-1 test' }, url);
      expect(r.ok, url).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('ERR_IPC_SENDER');
    }
    // Nothing was written: the workspace does not even exist yet.
    expect(() => readFileSync(join(tmp.dir, 'ws', 'workspace.json'))).toThrow();
    const fromDist = await ipc.invoke('app.info', {}, `file://${join(REPO_ROOT, 'dist/renderer/index.html')}`);
    expect(fromDist.ok).toBe(true);
  });

  it('settings.set validates, persists to workspace.json and announces the change', async () => {
    const got = await ipc.invoke('settings.get', undefined);
    expect(got.ok).toBe(true);
    if (!got.ok) return;
    const settings = { ...(got.value as Record<string, unknown>), keepGenerations: 5, operator: 'Dana' };
    // A change without its reason is refused, naming what is missing; nothing is written.
    const noReason = await ipc.invoke('settings.set', { settings });
    expect(noReason.ok ? null : noReason.error.code).toBe('ERR_IPC_INPUT');
    const blankReason = await ipc.invoke('settings.set', { settings, reason: '  ' });
    expect(blankReason.ok ? null : blankReason.error.message).toMatch(/reason/);
    expect(JSON.parse(readFileSync(join(tmp.dir, 'ws', 'workspace.json'), 'utf8')).settings.keepGenerations).toBe(2);
    const set = await ipc.invoke('settings.set', { settings, reason: 'CHG-77 longer rollback window' });
    expect(set.ok).toBe(true);
    const onDisk = JSON.parse(readFileSync(join(tmp.dir, 'ws', 'workspace.json'), 'utf8')) as { settings: { keepGenerations: number; operator: string } };
    expect(onDisk.settings.keepGenerations).toBe(5);
    expect(onDisk.settings.operator).toBe('Dana');
    expect(events).toContainEqual({ topic: 'data.changed', payload: { scopes: ['settings'] } });
    // Each changed setting is audited (from, to, the reason), like mirror settings set.
    const audit = await ipc.invoke('audit.list', { action: 'settings.changed' });
    expect(audit.ok && (audit.value as { rows: { subject: string; details: Record<string, unknown> }[] }).rows.map((r) => [r.subject, r.details.from, r.details.to, r.details.reason]).sort()).toEqual([
      ['keepGenerations', 2, 5, 'CHG-77 longer rollback window'],
      ['operator', '', 'Dana', 'CHG-77 longer rollback window'],
    ]);

    const bad = await ipc.invoke('settings.set', { settings: { ...settings, keepGenerations: 0 }, reason: 'CHG-78 too few' });
    expect(bad.ok ? null : bad.error.code).toBe('ERR_IPC_INPUT');
    const after = JSON.parse(readFileSync(join(tmp.dir, 'ws', 'workspace.json'), 'utf8')) as { settings: { keepGenerations: number } };
    expect(after.settings.keepGenerations).toBe(5);
  });

  it('dialog.openPath without a picker says so plainly', async () => {
    const r = await ipc.invoke('dialog.openPath', { mode: 'file' });
    expect(r.ok ? null : r.error.code).toBe('ERR_USAGE');
  });

  it('jobs.result for an unknown job is ERR_INPUT_NOT_FOUND', async () => {
    const r = await ipc.invoke('jobs.result', { jobId: 'nope' });
    expect(r.ok ? null : r.error.code).toBe('ERR_INPUT_NOT_FOUND');
  });
});

describe('isTrustedSenderUrl', () => {
  const dist = '/opt/console/dist/renderer';
  it('accepts our protocol and our dist folder only', () => {
    expect(isTrustedSenderUrl('app://console/index.html', dist)).toBe(true);
    expect(isTrustedSenderUrl('app://console/', dist)).toBe(true);
    expect(isTrustedSenderUrl('file:///opt/console/dist/renderer/index.html', dist)).toBe(true);
    expect(isTrustedSenderUrl('file:///opt/console/dist/renderer/../../secrets.html', dist)).toBe(false);
    expect(isTrustedSenderUrl('file:///opt/console/dist/renderer-evil/index.html', dist)).toBe(false);
    expect(isTrustedSenderUrl('app://console.evil/index.html', dist)).toBe(false);
    expect(isTrustedSenderUrl('http://localhost:5173/', dist)).toBe(false);
    expect(isTrustedSenderUrl('', dist)).toBe(false);
    expect(isTrustedSenderUrl(undefined, dist)).toBe(false);
    expect(isTrustedSenderUrl('file:///opt/console/dist/renderer/index.html')).toBe(false);
  });
});

describe('channels backed by the real engine (fixture kit ecdsa-p256)', () => {
  let tmp: { dir: string; cleanup: () => void };
  let handlers: Handlers;
  let ipc: FakeIpcMain;
  const KIT = join(KITS, 'ecdsa-p256');
  const KEY = join(KITS, 'ecdsa-p256.trusted.pub');

  beforeEach(() => {
    tmp = tempDir('okc-ipc-engine-');
    handlers = createHandlers({ workspaceDir: join(tmp.dir, 'ws') });
    ipc = new FakeIpcMain();
    registerHandlers(ipc, handlers.table, { isTrustedSender: (e) => isTrustedSenderUrl(e.senderFrame?.url) });
  });
  afterEach(async () => {
    await handlers.dispose();
    tmp.cleanup();
  });

  async function run(channel: 'verify.start' | 'import.start', input: unknown): Promise<JobInfo> {
    const r = await ipc.invoke(channel, input);
    if (!r.ok) throw new Error(`${channel}: ${r.error.code} ${r.error.message}`);
    return handlers.jobs.wait((r.value as { jobId: string }).jobId);
  }

  async function value<T>(channel: string, input?: unknown): Promise<T> {
    const r = await ipc.invoke(channel, input);
    if (!r.ok) throw new Error(`${channel}: ${r.error.code} ${r.error.message}`);
    return r.value as T;
  }

  it('verify.start verifies the kit with the given key and records the verdict in the audit log', async () => {
    const job = await run('verify.start', { path: KIT, keyFiles: [KEY] });
    expect(job.state).toBe('succeeded');
    expect(job.verdict?.ok).toBe(true);
    expect(job.verdict?.kind).toBe('kit');
    const audit = await value<AuditPage>('audit.list', { action: 'mirror.verify.passed' });
    expect(audit.rows).toHaveLength(1);
    expect((audit.rows[0].details as { path: string }).path).toBe(KIT);
  });

  it('a post-quantum age identity (AGE-SECRET-KEY-PQ-1…) works for verify.start and import.start (the app once refused it with ERR_USAGE)', async () => {
    const b = await writePqBundle(tmp.dir);
    const job = await run('verify.start', { path: b.file, keyFiles: [b.keyFile], identityFiles: [b.identityFile] });
    expect(job.state, job.error?.message ?? job.verdict?.message).toBe('succeeded');
    expect(job.verdict?.ok).toBe(true);
    const imp = await run('import.start', { paths: [b.file], keyFiles: [b.keyFile], identityFiles: [b.identityFile] });
    expect(imp.state, imp.error?.message ?? imp.import?.message).toBe('succeeded');
    expect(imp.status?.generation).toBe(1);
    // A file that is not an identity is still a plain usage error.
    writeFileSync(join(tmp.dir, 'not-an-identity.txt'), 'hello\n');
    const bad = await run('verify.start', { path: b.file, keyFiles: [b.keyFile], identityFiles: [join(tmp.dir, 'not-an-identity.txt')] });
    expect(bad.error?.code).toBe('ERR_USAGE');
  });

  it('verify.start without a trusted key refuses with ERR_VERIFY_SIGNATURE and the runbook action', async () => {
    const job = await run('verify.start', { path: KIT });
    expect(job.state).toBe('failed');
    expect(job.verdict?.ok).toBe(false);
    expect(job.verdict?.code).toBe('ERR_VERIFY_SIGNATURE');
    expect(job.verdict?.action).toContain('Do not import');
  });

  it('import.start applies the kit; status, library, audit and rollback follow through the table', async () => {
    const job = await run('import.start', { paths: [KIT], keyFiles: [KEY] });
    expect(job.state, JSON.stringify(job.import ?? job.error)).toBe('succeeded');
    expect(job.import?.ok).toBe(true);
    expect(job.status?.generation).toBe(3);
    const status = await value<WorkspaceStatusView>('workspace.status', {});
    expect(status.generation).toBe(3);
    expect(status.generations.map((g) => g.generation)).toContain(2);
    const lib = await value<LibraryEntry[]>('library.list', {});
    expect(lib.filter((e) => e.kind === 'mirror-full' || e.kind === 'mirror-delta')).toHaveLength(3);
    const chain = await value<AuditVerifyResult>('audit.verify', {});
    expect(chain.ok).toBe(true);
    expect(chain.rows).toBeGreaterThan(0);
    const back = await value<WorkspaceStatusView>('staging.rollback', { to: 2, reason: 'test rollback' });
    expect(back.generation).toBe(2);
    const rolled = await value<AuditPage>('audit.list', { action: 'mirror.rollback' });
    expect(rolled.rows).toHaveLength(1);
  });

  it('keys.add needs the matching fingerprint; keys.list and keys.revoke round-trip', async () => {
    const pem = readFileSync(KEY, 'utf8');
    const info = await value<{ fingerprint: string; algorithm: string }>('keys.inspect', { pem });
    expect(info.algorithm).toBe('ecdsa-p256');
    const wrong = await ipc.invoke('keys.add', { pem, tenant: 'acme', fingerprint: 'sha256:' + '1'.repeat(64), reason: 'CHG-1 pin key' });
    expect(wrong.ok ? null : wrong.error.code).toBe('ERR_FINGERPRINT_MISMATCH');
    expect(await value<unknown[]>('keys.list', {})).toHaveLength(0);
    const added = await value<{ fingerprint: string; status: string }>('keys.add', { pem, tenant: 'acme', fingerprint: info.fingerprint, reason: 'CHG-1 pin key' });
    expect(added.status).toBe('active');
    // The pinned key now serves without a key file.
    const job = await run('verify.start', { path: KIT });
    expect(job.verdict?.ok).toBe(true);
    const revoked = await value<{ status: string }>('keys.revoke', { tenant: 'acme', fingerprint: info.fingerprint, reason: 'CHG-2 retire key' });
    expect(revoked.status).toBe('revoked');
    const list = await value<{ status: string }[]>('keys.list', {});
    expect(list.map((k) => k.status)).toEqual(['revoked']);
  });
});

describe('jobs off the calling thread (the app main process executor)', () => {
  it('verify.start and audit.verify run in a worker thread with the same results', async () => {
    const tmp = tempDir('okc-ipc-worker-');
    const handlers = createHandlers({ workspaceDir: join(tmp.dir, 'ws'), exec: workerExec });
    try {
      const ipc = new FakeIpcMain();
      registerHandlers(ipc, handlers.table, { isTrustedSender: (e) => isTrustedSenderUrl(e.senderFrame?.url) });
      const r = await ipc.invoke('verify.start', { path: join(KITS, 'ecdsa-p256'), keyFiles: [join(KITS, 'ecdsa-p256.trusted.pub')] });
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      const job = await handlers.jobs.wait((r.value as { jobId: string }).jobId);
      expect(job.error).toBeNull();
      expect(job.verdict?.ok).toBe(true);
      expect(job.verdict?.kind).toBe('kit');
      // A missing key file is refused before any work, in plain words.
      const missing = await ipc.invoke('verify.start', { path: join(KITS, 'ecdsa-p256'), keyFiles: [join(tmp.dir, 'nope.pub')] });
      if (!missing.ok) throw new Error(missing.error.message);
      const failed = await handlers.jobs.wait((missing.value as { jobId: string }).jobId);
      expect(failed.error?.code).toBe('ERR_INPUT_NOT_FOUND');
      expect(failed.error?.message).toContain('nope.pub');
      // The audit chain walk goes through the worker too, and sees the verify rows written above.
      const chain = await ipc.invoke('audit.verify', {});
      if (!chain.ok) throw new Error(chain.error.message);
      expect(chain.value).toMatchObject({ ok: true, rows: 1 });
      // Checklist steps (automated ones run engine checks) are completed by the worker, recorded in the same log.
      const started = await ipc.invoke('checklists.start', { checklistId: 'daily' });
      if (!started.ok) throw new Error(started.error.message);
      const run = started.value as ChecklistRunView;
      const done = await ipc.invoke('checklists.completeStep', { runId: run.runId, stepId: run.steps[0].id, confirm: true, note: 'from the worker test' });
      if (!done.ok) throw new Error(done.error.message);
      expect((done.value as ChecklistRunView).steps[0]).toMatchObject({ status: 'confirmed', note: 'from the worker test' });
      const chain2 = await ipc.invoke('audit.verify', {});
      if (!chain2.ok) throw new Error(chain2.error.message);
      expect(chain2.value).toMatchObject({ ok: true, rows: 2 });
    } finally {
      await handlers.dispose();
      tmp.cleanup();
    }
  });
});

describe('checklists through the table (real runbook engine, real workspace)', () => {
  let tmp: { dir: string; cleanup: () => void };
  let handlers: Handlers;
  let ipc: FakeIpcMain;
  beforeEach(() => {
    tmp = tempDir('okc-ipc-checklists-');
    handlers = createHandlers({ workspaceDir: join(tmp.dir, 'ws') });
    ipc = new FakeIpcMain();
    registerHandlers(ipc, handlers.table, { isTrustedSender: (e) => isTrustedSenderUrl(e.senderFrame?.url) });
  });
  afterEach(async () => {
    await handlers.dispose();
    tmp.cleanup();
  });

  async function value<T>(channel: string, input?: unknown): Promise<T> {
    const r = await ipc.invoke(channel, input);
    if (!r.ok) throw new Error(`${channel}: ${r.error.code} ${r.error.message}`);
    return r.value as T;
  }

  it('lists the shipped procedures, runs the daily checklist step by step, in order, audited', async () => {
    const lists = await value<ChecklistSummary[]>('checklists.list', {});
    expect(lists.map((c) => c.section)).toEqual(expect.arrayContaining(['4.1', '7.2', '8.2']));
    const daily = lists.find((c) => c.section === '4.1')!;
    const run = await value<ChecklistRunView>('checklists.start', { checklistId: daily.id });
    expect(run.steps).toHaveLength(daily.stepCount);
    expect(run.steps.every((st) => st.status === 'pending')).toBe(true);

    const first = run.steps[0];
    const second = run.steps[1];
    const outOfOrder = await ipc.invoke('checklists.completeStep', { runId: run.runId, stepId: second.id });
    expect(outOfOrder.ok ? null : outOfOrder.error.code).toBe('ERR_CHECKLIST_STATE');

    expect(first.type).toBe('manual');
    const after1 = await value<ChecklistRunView>('checklists.completeStep', { runId: run.runId, stepId: first.id, confirm: true, note: 'dashboard reviewed' });
    expect(after1.steps[0].status).toBe('confirmed');
    expect(after1.steps[0].note).toBe('dashboard reviewed');
    expect(after1.steps[0].confirmation).toBe('prompt'); // a click on the step's confirm button
    expect(after1.steps[0].by).toBeTruthy();
    expect(after1.steps[1].status).toBe('pending'); // one step at a time

    expect(second.type).toBe('automated');
    expect(after1.nextStepId).toBe(second.id);
    const after2 = await value<ChecklistRunView>('checklists.completeStep', { runId: run.runId, stepId: second.id });
    expect(after2.steps[1].status).not.toBe('pending');
    expect(after2.steps[1].evidence).toBeTruthy();
    // The daily checks do not block (onFail: continue): whatever this one found, the run moves on to the next step.
    expect(after2.nextStepId).toBe(run.steps[2].id);
    const again = await ipc.invoke('checklists.completeStep', { runId: run.runId, stepId: second.id });
    expect(again.ok ? null : again.error.code).toBe('ERR_CHECKLIST_STATE');

    const status = await value<ChecklistRunView[]>('checklists.status', { runId: run.runId });
    expect(status[0].steps[0].status).toBe('confirmed');
    // The app's run view IS the runbook service's mapping (the adapter holds no checklist rule).
    const db = openDatabase(join(tmp.dir, 'ws', 'console.db'));
    try {
      const procs = loadProcedures();
      expect(status[0]).toEqual(toChecklistRunView(getRun(db, run.runId, procs), procs));
      expect(lists).toEqual(procs.map(toChecklistSummary));
    } finally {
      db.close();
    }
    const audit = await value<AuditPage>('audit.list', { action: 'checklist.step.completed' });
    expect(audit.rows.length).toBe(2);
  });

  it('a procedure with a required input refuses to start without it', async () => {
    const lists = await value<ChecklistSummary[]>('checklists.list', {});
    const mirror = lists.find((c) => c.section === '8.2')!;
    expect(mirror.inputs?.some((i) => i.name === 'path' && i.required)).toBe(true);
    const r = await ipc.invoke('checklists.start', { checklistId: mirror.id });
    expect(r.ok).toBe(false);
    const ok = await value<ChecklistRunView>('checklists.start', { checklistId: mirror.id, inputs: { path: join(KITS, 'ecdsa-p256') } });
    expect(ok.state).toBe('not_started');
  });
});

describe('cancelling a running verification through jobs.cancel', () => {
  it('stops the engine mid-stream: ERR_CANCELLED, progress stops, no verdict recorded', async () => {
    const tmp = tempDir('okc-ipc-cancel-');
    const key = generateSigningKey('ecdsa-p256');
    const bundle = join(tmp.dir, 'mirror-20251029-full.tar.zst');
    await writeMirrorBundle(bundle, { key, files: generatedPayload(48, 1024 * 1024, { kind: 'random' }) });
    const keyFile = join(tmp.dir, 'key.pub');
    writeFileSync(keyFile, key.publicPem);

    let jobId = '';
    let progressAfterCancel = 0;
    let cancelled = false;
    const handlers = createHandlers({
      workspaceDir: join(tmp.dir, 'ws'),
      emit: (topic) => {
        if (topic !== 'job.progress' || !jobId) return;
        if (cancelled) progressAfterCancel++;
        else {
          // Cancel at the first progress event: the engine is mid-stream.
          cancelled = handlers.jobs.cancel(jobId);
        }
      },
    });
    try {
      const ipc = new FakeIpcMain();
      registerHandlers(ipc, handlers.table, { isTrustedSender: (e) => isTrustedSenderUrl(e.senderFrame?.url) });
      // Control: the same bundle verifies when left alone.
      const whole = await ipc.invoke('verify.start', { path: bundle, keyFiles: [keyFile] });
      if (!whole.ok) throw new Error(whole.error.message);
      const control = await handlers.jobs.wait((whole.value as { jobId: string }).jobId);
      expect(control.verdict?.ok).toBe(true);
      const total = control.verdict!.stats.bytes;

      const r = await ipc.invoke('verify.start', { path: bundle, keyFiles: [keyFile] });
      if (!r.ok) throw new Error(r.error.message);
      jobId = (r.value as { jobId: string }).jobId;
      const job = await handlers.jobs.wait(jobId);
      expect(cancelled).toBe(true);
      expect(job.state).toBe('cancelled');
      expect(job.error?.code).toBe('ERR_CANCELLED');
      expect(job.verdict).toBeNull();
      expect(job.progress?.bytesDone ?? 0).toBeLessThan(total);
      expect(progressAfterCancel).toBe(0);
      const audit = await ipc.invoke('audit.list', {});
      if (!audit.ok) throw new Error(audit.error.message);
      expect((audit.value as AuditPage).rows.map((x) => x.action)).toEqual(['mirror.verify.passed']); // only the control run
    } finally {
      await handlers.dispose();
      tmp.cleanup();
    }
  });
});
