import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../services/db/index';
import { metricValue } from '../../services/obs/index';
import { KITS, tempDir } from '../../services/testing/fixtures';
import { openWorkspace, saveSettings } from '../../services/workspace/index';
import type { CliIo } from '../command';
import { runCli } from '../mirror';

function io(env: NodeJS.ProcessEnv = {}, tty = false) {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), tty ? { isTTY: true } : {});
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const value: CliIo = { stdout, stderr, stdin: new PassThrough(), env, cwd: process.cwd(), signal: new AbortController().signal };
  return { io: value, out: () => out, err: () => err };
}

async function run(args: string[], env: NodeJS.ProcessEnv = {}, tty = false) {
  const t = io(env, tty);
  const code = await runCli(args, t.io);
  return { code, out: t.out(), err: t.err(), json: () => JSON.parse(t.out()) as Record<string, unknown> };
}

const KIT = join(KITS, 'ecdsa-p256');
const KEY = join(KITS, 'ecdsa-p256.trusted.pub');

let tmp: { dir: string; cleanup: () => void };
let wsDir: string;
beforeEach(() => {
  tmp = tempDir('okc-cli-');
  wsDir = join(tmp.dir, 'ws');
});
afterEach(() => tmp.cleanup());

function auditActions(): string[] {
  const db = openDatabase(join(wsDir, 'console.db'));
  try {
    return (db.prepare('SELECT action FROM audit_log ORDER BY rowid').all() as { action: string }[]).map((r) => r.action);
  } finally {
    db.close();
  }
}

describe('mirror import / status / rollback / retention', () => {
  it('imports a kit into a new workspace, reports status with the agreed JSON keys, rolls back and verifies', async () => {
    const plan = await run(['import', KIT, '--workspace', wsDir, '--key', KEY, '--dry-run', '--json']);
    expect(plan.code).toBe(0);
    expect(plan.json()).toMatchObject({ dryRun: true });
    expect(existsSync(join(wsDir, 'workspace.json'))).toBe(false);

    const r = await run(['import', KIT, '--workspace', wsDir, '--key', KEY, '--json']);
    expect(r.code, r.out + r.err).toBe(0);
    const j = r.json() as { ok: boolean; items: { outcome: string; stats?: { linkedFiles: number; writtenFiles: number } }[] };
    expect(j.ok).toBe(true);
    expect(j.items.map((i) => i.outcome)).toEqual(['applied', 'applied', 'applied', 'installed']);
    expect(j.items[1].stats!.linkedFiles).toBeGreaterThan(0);

    const st = await run(['status', '--workspace', wsDir, '--json']);
    expect(st.code).toBe(0);
    const s = st.json();
    expect(Object.keys(s).sort()).toEqual(['engine', 'exportId', 'generation', 'generations', 'health', 'lastApply', 'library', 'lock', 'stateDigest']);
    expect(s.lock).toBeNull(); // nobody holds the workspace after the import
    expect(s.engine).toBeNull(); // no mirror serve on it
    expect(s.generation).toBe(3);
    expect((s.generations as object[]).every((g) => Object.keys(g).sort().join() === 'appliedAt,exportId,generation')).toBe(true);
    expect((s.library as object[]).every((l) => Object.keys(l).sort().join() === 'exportId,file,generation,kind,sha256')).toBe(true);
    expect((s.library as { kind: string }[]).map((l) => l.kind).sort()).toEqual(['mirror-delta', 'mirror-delta', 'mirror-full', 'trivy-db']);

    const deep = await run(['status', '--workspace', wsDir, '--deep', '--json']);
    expect(deep.code).toBe(0);
    expect(deep.json().stateDigest).toBe(s.stateDigest);

    const v2 = await run(['verify', wsDir, '--json']);
    expect(v2.code, v2.out).toBe(0);
    expect(v2.json()).toMatchObject({ ok: true, kind: 'workspace', generation: 3 });

    const rb = await run(['rollback', '--workspace', wsDir, '--to', '2', '--json']);
    expect(rb.code, rb.out).toBe(0);
    expect((await run(['status', '--workspace', wsDir, '--json'])).json().generation).toBe(2);

    // Replay of a loose bundle already applied: ordering refusal, exit 8.
    const replay = await run(['import', join(KIT, 'mirror/mirror-20251029-full.tar.zst'), '--workspace', wsDir, '--key', KEY, '--json']);
    expect(replay.code).toBe(8);
    expect(replay.json()).toMatchObject({ ok: false, code: 'ERR_IMPORT_NON_MONOTONIC' });
    // Forced with a reason: applied and audited.
    const forced = await run(['import', join(KIT, 'mirror/mirror-20251029-full.tar.zst'), '--workspace', wsDir, '--key', KEY, '--force-reason', 'restore drill CHG-7', '--json']);
    expect(forced.code, forced.out).toBe(0);
    expect((await run(['status', '--workspace', wsDir, '--json'])).json().generation).toBe(1);
    const actions = auditActions();
    expect(actions).toContain('mirror.bundle.imported');
    expect(actions).toContain('mirror.import.forced');
    expect(actions).toContain('mirror.rollback');
    expect(actions.filter((a) => a === 'mirror.delta.applied')).toHaveLength(2);
    // The refused replay was a full bundle: recorded as such, never as a failed delta.
    expect(actions).toContain('mirror.full.apply_failed');
    expect(actions).not.toContain('mirror.delta.apply_failed');
    // Metrics for the daily checks.
    const ws = openWorkspace(wsDir);
    expect(metricValue(ws, 'imports_total', { kind: 'mirror-delta' })).toBe(2);
    expect(metricValue(ws, 'imports_total', { kind: 'mirror-full' })).toBe(2);
    expect(metricValue(ws, 'apply_failures_total', { error_code: 'ERR_IMPORT_NON_MONOTONIC' })).toBe(1);
    expect(metricValue(ws, 'last_successful_apply_timestamp_seconds')).toBeGreaterThan(1.7e9);
    expect(metricValue(ws, 'staging_bytes')).toBeGreaterThan(0);
  });

  it('shows verify and apply progress on stderr when it is a terminal, never on stdout and never with --json', async () => {
    const r = await run(['import', KIT, '--workspace', wsDir, '--key', KEY], {}, true);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.err).toMatch(/\rverify[^\n]*: [^\n]*MB\/s/);
    // Per mirror bundle (k of 4: three mirror bundles, then Trivy): an apply line ending at the bytes it placed, then the switch.
    for (const k of [1, 2, 3]) {
      expect(r.err).toMatch(new RegExp(`\\rapply \\[${k}/4 [^\\]\\n]+\\]: ([^\\n/]+) / \\1 [^\\n]*MB/s`));
      expect(r.err).toMatch(new RegExp(`\\rswitch \\[${k}/4 [^\\]\\n]+\\]: done\\n`));
    }
    expect(r.out).not.toMatch(/MB\/s|\r/);
    const other = join(tmp.dir, 'ws-json');
    const j = await run(['import', KIT, '--workspace', other, '--key', KEY, '--json'], {}, true);
    expect(j.code, j.out + j.err).toBe(0);
    expect(j.err).not.toMatch(/MB\/s/);
    expect(j.json()).toMatchObject({ ok: true });
    const plain = await run(['import', KIT, '--workspace', join(tmp.dir, 'ws-plain'), '--key', KEY]);
    expect(plain.code).toBe(0);
    expect(plain.err).not.toMatch(/MB\/s/);
  });

  it('retention keeps what the current generation needs, prunes old bundles, and records every run', async () => {
    expect((await run(['import', KIT, '--workspace', wsDir, '--key', KEY])).code).toBe(0);
    // Keep no extra deltas: only the chain of the current generation protects the bundles.
    const ws = openWorkspace(wsDir);
    saveSettings(ws, { ...ws.settings, retention: { mirrorDays: 30, trivyCount: 1, keepDeltas: 0 } });
    // Everything is from 2025 (older than 30 days), but generation 3 needs full + both deltas.
    const dry = await run(['retention', 'run', '--workspace', wsDir, '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    expect((dry.json().pruned as unknown[]).length).toBe(0);
    // Roll back to generation 2: the generation-3 delta is no longer needed and is old: pruned.
    expect((await run(['rollback', '--workspace', wsDir, '--to', '2'])).code).toBe(0);
    const r = await run(['retention', 'run', '--workspace', wsDir, '--json']);
    expect(r.code).toBe(0);
    const pruned = r.json().pruned as { generation: number; file: string }[];
    expect(pruned.map((p) => p.generation)).toEqual([3]);
    expect(existsSync(join(wsDir, pruned[0].file))).toBe(false);
    const st = (await run(['status', '--workspace', wsDir, '--json'])).json();
    expect((st.library as { generation: number | null }[]).map((l) => l.generation).filter((g) => g !== null).sort()).toEqual([1, 2]);
    // A run that prunes nothing is still recorded.
    const again = await run(['retention', 'run', '--workspace', wsDir, '--json']);
    expect((again.json().pruned as unknown[]).length).toBe(0);
    const actions = auditActions();
    expect(actions.filter((a) => a === 'retention.pruned')).toHaveLength(1);
    expect(actions.filter((a) => a === 'retention.run')).toHaveLength(2);
    expect(metricValue(openWorkspace(wsDir), 'retention_pruned_total', { kind: 'mirror-delta' })).toBe(1);
  });

  it('clear errors: no key, missing input, bad --to, busy', async () => {
    const noKey = await run(['import', KIT, '--workspace', wsDir, '--json']);
    expect(noKey.code).toBe(5);
    const missing = await run(['import', join(tmp.dir, 'nope.tar.zst'), '--workspace', wsDir, '--key', KEY, '--json']);
    expect(missing.json()).toMatchObject({ code: 'ERR_INPUT_NOT_FOUND' });
    expect(missing.code).toBe(1);
    const badTo = await run(['rollback', '--workspace', wsDir, '--to', 'latest', '--json']);
    expect(badTo.code).toBe(4);
    const noGen = await run(['rollback', '--workspace', wsDir, '--json']);
    expect(noGen.json()).toMatchObject({ ok: false, code: 'ERR_INPUT_NOT_FOUND' });
    const notWs = await run(['import', KIT, '--workspace', tmp.dir, '--key', KEY, '--json']);
    expect(notWs.json()).toMatchObject({ code: 'ERR_WORKSPACE_INVALID' });
    expect(existsSync(join(tmp.dir, 'workspace.json'))).toBe(false);
    const noWs = await run(['status', '--workspace', join(tmp.dir, 'none'), '--json']);
    expect(noWs.json()).toMatchObject({ code: 'ERR_WORKSPACE_INVALID' });
  });

  it('applies the workspace limits (settings) to an import: a bundle beyond them is refused with ERR_BUNDLE_LIMIT', async () => {
    const ws = openWorkspace(wsDir, { create: true });
    saveSettings(ws, { ...ws.settings, limits: { ...ws.settings.limits, maxTotalBytes: 4096 } });
    const r = await run(['import', join(KIT, 'mirror', 'mirror-20251029-full.tar.zst'), '--workspace', wsDir, '--key', KEY, '--json']);
    expect(r.json()).toMatchObject({ ok: false, code: 'ERR_BUNDLE_LIMIT' });
    expect(r.code).toBe(11);
    const status = await run(['status', '--workspace', wsDir, '--json']);
    expect(status.json()).toMatchObject({ generation: null });
  });
});
