/**
 * The channels that bring CLI-only features to the app: key rotation, retention
 * preview and run (with a reason), signed audit export and checklist evidence
 * export. Through the registered table on a real workspace with the fixture kit.
 */
import { createPublicKey, verify as verifySig } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditPage, ChecklistRunView, Envelope, ExportedFiles, JobInfo, KeyView, RetentionView } from '../../shared/contract';
import { generateSigningKey } from '../services/producer/index';
import { KITS, tempDir } from '../services/testing/fixtures';
import { createHandlers, isTrustedSenderUrl, registerHandlers, type Handlers, type IpcEventLike, type IpcMainLike } from './handlers';

type Listener = (event: IpcEventLike, input: unknown) => Promise<unknown>;
class FakeIpcMain implements IpcMainLike {
  readonly listeners = new Map<string, Listener>();
  handle(channel: string, listener: Listener): void {
    this.listeners.set(channel, listener);
  }
  async invoke(channel: string, input: unknown): Promise<Envelope<unknown>> {
    return (await this.listeners.get(channel)!({ senderFrame: { url: 'app://console/index.html' } }, input)) as Envelope<unknown>;
  }
}

const KIT = join(KITS, 'ecdsa-p256');
const KEY = join(KITS, 'ecdsa-p256.trusted.pub');

describe('operator channels (rotation, retention, exports)', () => {
  let tmp: { dir: string; cleanup: () => void };
  let handlers: Handlers;
  let ipc: FakeIpcMain;

  beforeEach(() => {
    tmp = tempDir('okc-ipc-ops-');
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
  async function refusal(channel: string, input?: unknown): Promise<string> {
    const r = await ipc.invoke(channel, input);
    return r.ok ? 'accepted' : r.error.code;
  }

  it('keys.rotate pins the new key beside the old one (both active until a revoke), audited with the reason and what it replaces', async () => {
    const pem = readFileSync(KEY, 'utf8');
    const old = await value<{ fingerprint: string }>('keys.inspect', { pem });
    await value('keys.add', { pem, tenant: 'acme', fingerprint: old.fingerprint, reason: 'CHG-1 pin key' });
    const next = generateSigningKey('ed25519');
    expect(await refusal('keys.rotate', { pem: next.publicPem, tenant: 'acme', fingerprint: next.fingerprint, replaces: old.fingerprint, reason: 'x' })).toBe('ERR_IPC_INPUT');
    expect(await refusal('keys.rotate', { pem: next.publicPem, tenant: 'acme', fingerprint: old.fingerprint, replaces: old.fingerprint, reason: 'CHG-3 rotate' })).toBe('ERR_FINGERPRINT_MISMATCH');
    const rotated = await value<KeyView>('keys.rotate', { pem: next.publicPem, tenant: 'acme', fingerprint: next.fingerprint, replaces: old.fingerprint, reason: 'CHG-3 rotate' });
    expect(rotated).toMatchObject({ fingerprint: next.fingerprint, tenant: 'acme', status: 'active' });
    const keys = await value<KeyView[]>('keys.list', {});
    expect(keys.map((k) => k.status).sort()).toEqual(['active', 'active']);
    const audit = await value<AuditPage>('audit.list', { action: 'keys.rotated' });
    expect(audit.rows).toHaveLength(1);
    expect(audit.rows[0].details).toMatchObject({ reason: 'CHG-3 rotate', replaces: old.fingerprint });
  });

  it('retention.preview changes nothing; retention.run needs a reason and records it', async () => {
    const imp = await ipc.invoke('import.start', { paths: [KIT], keyFiles: [KEY] });
    if (!imp.ok) throw new Error(imp.error.message);
    const job: JobInfo = await handlers.jobs.wait((imp.value as { jobId: string }).jobId);
    expect(job.state).toBe('succeeded');
    const preview = await value<RetentionView>('retention.preview');
    expect(preview.dryRun).toBe(true);
    expect(preview.kept.length + preview.pruned.length).toBeGreaterThan(0);
    expect((await value<AuditPage>('audit.list', { action: 'retention.run' })).rows).toHaveLength(0);
    expect(await refusal('retention.run', {})).toBe('ERR_IPC_INPUT');
    const run = await value<RetentionView>('retention.run', { reason: 'nightly 5.2 from the console' });
    expect(run.dryRun).toBe(false);
    expect(run.pruned.map((p) => p.sha256)).toEqual(preview.pruned.map((p) => p.sha256));
    const rows = (await value<AuditPage>('audit.list', { action: 'retention.run' })).rows;
    expect(rows).toHaveLength(1);
    expect(rows[0].details).toMatchObject({ reason: 'nightly 5.2 from the console' });
  });

  it('audit.export writes the log into evidence/audit, signed when a key file is given; a missing key file is ERR_INPUT_NOT_FOUND', async () => {
    await value('settings.get');
    const plain = await value<ExportedFiles>('audit.export', { format: 'csv' });
    expect(plain.files[0]).toMatch(/evidence[\\/]audit[\\/]audit-.*\.csv$/);
    expect(existsSync(plain.files[0])).toBe(true);
    expect(plain.signatures).toEqual([]);

    const k = generateSigningKey('ed25519');
    const keyFile = join(tmp.dir, 'audit-signing.pem');
    writeFileSync(keyFile, k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const signed = await value<ExportedFiles>('audit.export', { format: 'jsonl', signKeyFile: keyFile });
    expect(signed.signatures.length).toBeGreaterThan(0);
    const sig = Buffer.from(readFileSync(signed.signatures[0], 'utf8').trim(), 'base64');
    expect(verifySig(null, readFileSync(signed.files[0]), createPublicKey(k.publicPem), sig)).toBe(true);
    expect(await refusal('audit.export', { signKeyFile: join(tmp.dir, 'missing.pem') })).toBe('ERR_INPUT_NOT_FOUND');
  });

  it('checklists.exportEvidence writes the run evidence (JSON and HTML), signed on request', async () => {
    const run = await value<ChecklistRunView>('checklists.start', { checklistId: 'daily' });
    const out = await value<ExportedFiles>('checklists.exportEvidence', { runId: run.runId });
    expect(out.files.map((f) => f.split(/[\\/]/).pop())).toEqual([`${run.runId}.json`, `${run.runId}.html`]);
    expect(JSON.parse(readFileSync(out.files[0], 'utf8'))).toBeTruthy();
    const k = generateSigningKey('ecdsa-p256');
    const keyFile = join(tmp.dir, 'ev.pem');
    writeFileSync(keyFile, k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const signed = await value<ExportedFiles>('checklists.exportEvidence', { runId: run.runId, signKeyFile: keyFile });
    expect(signed.signatures).toHaveLength(2);
    expect(await refusal('checklists.exportEvidence', { runId: 'no-such-run' })).toBe('ERR_INPUT_NOT_FOUND');
  });
});
