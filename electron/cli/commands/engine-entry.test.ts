/**
 * Every `mirror` command opens its workspace through the composition root:
 * after an apply SIGKILLed mid-way, each command that opens the workspace
 * finds it recovered (journal gone, audited as mirror.apply.recovered); and
 * a post-quantum age identity works on the CLI path.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../services/db/index';
import { applyPrepared } from '../../services/staging/apply';
import { faultFull } from '../../services/staging/fault-scenario';
import { openForWrite } from '../../services/staging/index';
import { fakeVerifiedBundle } from '../../services/staging/testing';
import { KITS, REPO_ROOT, tempDir } from '../../services/testing/fixtures';
import { writePqBundle } from '../../services/testing/pq';
import { generationName } from '../../services/workspace/layout';
import type { CliIo } from '../command';
import { runCli } from '../mirror';

async function run(args: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const io: CliIo = { stdout, stderr, stdin: new PassThrough(), env: {}, cwd: process.cwd(), signal: new AbortController().signal };
  const code = await runCli(args, io);
  return { code, out, err };
}

let tmp: { dir: string; cleanup: () => void };
let killed = '';
beforeAll(async () => {
  tmp = tempDir('okc-entry-');
  // A workspace at generation 1, then an apply of the next delta killed (SIGKILL) mid-way, after its journal was written.
  const template = join(tmp.dir, 'template');
  const s = openForWrite(template, 'setup', { create: true });
  try {
    applyPrepared(s.ws, s.db, fakeVerifiedBundle(s.ws, faultFull()).prepared);
  } finally {
    s.close();
  }
  const outDir = join(REPO_ROOT, 'node_modules', '.cache', 'okc-entry');
  mkdirSync(outDir, { recursive: true });
  const driver = join(outDir, `driver-${process.pid}.mjs`);
  await build({ entryPoints: [join(REPO_ROOT, 'electron/services/staging/fault-driver.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: driver, logLevel: 'error' });
  try {
    const probe = join(tmp.dir, 'probe');
    spawnSync('cp', ['-a', template, probe]);
    const count = spawnSync(process.execPath, [driver], { env: { ...process.env, OKC_WS: probe, OKC_KILL_AT: '0' }, encoding: 'utf8' });
    const steps = (JSON.parse(count.stdout.trim().split('\n').pop()!) as { steps: string[] }).steps;
    // Kill right after the journal says "begin": an apply under way, nothing switched yet.
    const at = steps.indexOf('journal:begin') + 2;
    expect(at).toBeGreaterThan(1);
    killed = join(tmp.dir, 'killed');
    spawnSync('cp', ['-a', template, killed]);
    const k = spawnSync(process.execPath, [driver], { env: { ...process.env, OKC_WS: killed, OKC_KILL_AT: String(at) }, encoding: 'utf8' });
    expect(k.signal).toBe('SIGKILL');
    expect(existsSync(join(killed, 'journal', 'apply.json'))).toBe(true);
  } finally {
    rmSync(driver, { force: true });
  }
}, 120_000);
afterAll(() => tmp?.cleanup());

const KIT = join(KITS, 'ecdsa-p256');
const KEY = join(KITS, 'ecdsa-p256.trusted.pub');

/** Each command that opens a workspace (the workspace flag is appended). */
const COMMANDS: Record<string, string[]> = {
  status: ['status'],
  'keys list': ['keys', 'list'],
  'audit verify': ['audit', 'verify'],
  'audit list': ['audit', 'list'],
  'audit export': ['audit', 'export', '--out', '@/audit.jsonl'],
  'checklist status': ['checklist', 'status'],
  verify: ['verify'],
  import: ['import', KIT, '--key', KEY, '--dry-run'],
  rollback: ['rollback'],
  'retention run': ['retention', 'run', '--dry-run'],
  'settings list': ['settings', 'list'],
};

describe('recovery on open: every CLI command', () => {
  for (const [name, args] of Object.entries(COMMANDS)) {
    it(`mirror ${name} finds an apply killed mid-way recovered (journal gone, audited, staging at generation 1)`, async () => {
      const ws = join(tmp.dir, `ws-${name.replace(/ /g, '-')}`);
      expect(spawnSync('cp', ['-a', killed, ws]).status).toBe(0);
      expect(existsSync(join(ws, 'journal', 'apply.json'))).toBe(true);
      await run([...args.map((a) => a.replace(/^@/, tmp.dir + `/${name.replace(/ /g, '-')}`)), '--workspace', ws]);
      expect(existsSync(join(ws, 'journal', 'apply.json'))).toBe(false);
      expect(readlinkSync(join(ws, 'staging', 'current'))).toBe(generationName(1));
      const db = openDatabase(join(ws, 'console.db'));
      try {
        const rows = db.prepare("SELECT details FROM audit_log WHERE action = 'mirror.apply.recovered'").all() as { details: string }[];
        expect(rows).toHaveLength(1);
        expect((JSON.parse(rows[0].details) as { outcome: string }).outcome).toBe('rolled-back');
      } finally {
        db.close();
      }
    });
  }
});

describe('a post-quantum age identity on the CLI path', () => {
  it('mirror verify and mirror import accept an AGE-SECRET-KEY-PQ-1… identity file', async () => {
    const b = await writePqBundle(tmp.dir);
    const v = await run(['verify', b.file, '--key', b.keyFile, '--identity', b.identityFile, '--json']);
    expect(v.code, v.out + v.err).toBe(0);
    expect((JSON.parse(v.out) as { ok: boolean }).ok).toBe(true);
    const ws = join(tmp.dir, 'pq-ws');
    const i = await run(['import', b.file, '--key', b.keyFile, '--identity', b.identityFile, '--workspace', ws, '--json']);
    expect(i.code, i.out + i.err).toBe(0);
    expect((JSON.parse(i.out) as { generation: number }).generation).toBe(1);
    // Without the identity the bundle cannot be read: refused, nothing applied.
    const none = await run(['verify', b.file, '--key', b.keyFile, '--json']);
    expect(none.code).not.toBe(0);
  });
});
