/**
 * Ctrl-C on a real terminal: the built CLI (dist/cli/mirror.cjs, `node
 * build/build.mjs cli`) runs under a pseudo-terminal (Python's pty module) and
 * gets the ^C character once it is waiting (at a prompt, or in the middle of a
 * long verify or import), as an operator's keyboard would send it. Each wait
 * must end with exit 130 and a message, and leave the workspace consistent:
 * the next commands find it intact and the next import succeeds.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, writeMirrorBundle, type SigningKey } from '../services/producer/index';
import { REPO_ROOT, tempDir } from '../services/testing/fixtures';

const CLI = join(REPO_ROOT, 'dist', 'cli', 'mirror.cjs');

/** Runs argv under a pty; when `trigger` appears in its output, types ^C. Reports the exit and how long the exit took after ^C. */
const PTY_DRIVER = String.raw`
import json, os, pty, select, sys, time
argv = json.loads(sys.argv[1]); trigger = sys.argv[2].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
buf = b''; sent = None; status = None
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    r, _, _ = select.select([fd], [], [], 0.02)
    if r:
        try:
            d = os.read(fd, 65536)
        except OSError:
            d = b''
        if not d:
            break
        buf += d
    if sent is None and trigger in buf:
        os.write(fd, b'\x03'); sent = time.monotonic()
    wp, st = os.waitpid(pid, os.WNOHANG)
    if wp:
        status = st
        break
if status is None:
    _, status = os.waitpid(pid, 0)
ended = time.monotonic()
try:
    while True:
        r, _, _ = select.select([fd], [], [], 0.05)
        if not r: break
        d = os.read(fd, 65536)
        if not d: break
        buf += d
except OSError:
    pass
code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)
print(json.dumps({"code": code, "sent": sent is not None, "afterCtrlC_ms": None if sent is None else round((ended - sent) * 1000), "output": buf.decode('utf8', 'replace')}))
`;

let tmp: { dir: string; cleanup: () => void };
let driver: string;
let key: SigningKey;
let keyFile: string;
let generation = 1;

interface PtyRun {
  code: number;
  sent: boolean;
  afterCtrlC_ms: number | null;
  output: string;
}

function underPty(args: string[], trigger: string, env: Record<string, string> = {}): PtyRun {
  const r = spawnSync('python3', [driver, JSON.stringify([process.execPath, CLI, ...args]), trigger], { encoding: 'utf8', timeout: 180_000, cwd: tmp.dir, env: { ...process.env, ...env } });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as PtyRun;
}

function mirror(args: string[]): { code: number; json: Record<string, unknown> } {
  const r = spawnSync(process.execPath, [CLI, ...args, '--json'], { encoding: 'utf8', timeout: 180_000 });
  return { code: r.status ?? -1, json: JSON.parse(r.stdout || '{}') as Record<string, unknown> };
}

/** Waits (up to 30 s) for `ok()`; fails with what `what()` says then. */
async function until(ok: () => boolean, what: () => string): Promise<void> {
  for (let i = 0; i < 300 && !ok(); i++) await new Promise((r) => setTimeout(r, 100));
  expect(ok(), what()).toBe(true);
}

async function bigBundle(name: string): Promise<string> {
  // Incompressible payload, large enough that verify and import take a while.
  const file = join(tmp.dir, name);
  const files = Array.from({ length: 24 }, (_, i) => ({ path: `data/raw/advisories/part-${String(i).padStart(2, '0')}.jsonl.zst`, content: { size: 16 << 20, seed: `${name}-${i}` } }));
  await writeMirrorBundle(file, { key, tenant: 'acme', profileId: 'nightly', generation: generation++, files });
  return file;
}

async function smallBundle(name: string): Promise<string> {
  const file = join(tmp.dir, name);
  await writeMirrorBundle(file, { key, tenant: 'acme', profileId: 'nightly', generation: generation++, files: [{ path: 'data/raw/advisories/a.jsonl.zst', content: 'x\n' }] });
  return file;
}

const latencies: Record<string, number | null> = {};

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`node build/build.mjs cli\` first (npm test builds it).`);
  tmp = tempDir('okc-ctrlc-');
  driver = join(tmp.dir, 'pty-driver.py');
  writeFileSync(driver, PTY_DRIVER);
  key = generateSigningKey('ecdsa-p256');
  keyFile = join(tmp.dir, 'trusted.pub');
  writeFileSync(keyFile, key.publicPem);
});
afterAll(() => {
  // The measured times, for the record (not asserted: a loaded machine is slower).
  console.log(`Ctrl-C to exit (ms): ${JSON.stringify(latencies)}`);
  tmp.cleanup();
});

/** What every interrupted command must leave: an intact workspace that takes the next import. */
async function consistent(ws: string, expectGeneration: number | null): Promise<void> {
  const st = mirror(['status', '--workspace', ws]);
  expect(st.code).toBe(0);
  expect(st.json.generation ?? null).toBe(expectGeneration);
  if (expectGeneration !== null) expect(mirror(['verify', ws]).code).toBe(0);
  expect(mirror(['audit', 'verify', '--workspace', ws]).code).toBe(0);
  expect(readdirSync(join(ws, 'incoming'))).toEqual([]);
  const next = mirror(['import', await smallBundle(`next-${generation}.tar.zst`), '--workspace', ws, '--key', keyFile]);
  expect(next.code, JSON.stringify(next.json)).toBe(0);
}

describe('Ctrl-C during a wait: exit 130, a message, the workspace consistent', () => {
  it('in the middle of a long verify', async () => {
    const bundle = await bigBundle('big-verify.tar.zst');
    const r = underPty(['verify', bundle, '--key', keyFile], 'MiB / '); // the first progress line
    latencies.verify = r.afterCtrlC_ms;
    expect(r.sent, r.output).toBe(true);
    expect(r.code, r.output).toBe(130);
    expect(r.output).toMatch(/ERR_CANCELLED/);
    expect(r.output).not.toMatch(/VERIFIED/);
    // Bounded: a wait that ignored ^C would run to its end (or forever), not stop here.
    expect(r.afterCtrlC_ms!).toBeLessThan(10_000);
  }, 180_000);

  it('in the middle of a long import: nothing half-applied, the next import succeeds', async () => {
    const ws = join(tmp.dir, 'ws-import');
    expect(mirror(['import', await smallBundle('first.tar.zst'), '--workspace', ws, '--key', keyFile]).code).toBe(0);
    const before = mirror(['status', '--workspace', ws]).json.generation as number;
    const r = underPty(['import', await bigBundle('big-import.tar.zst'), '--workspace', ws, '--key', keyFile], 'MiB / '); // the first progress line
    latencies.import = r.afterCtrlC_ms;
    expect(r.sent, r.output).toBe(true);
    expect(r.code, r.output).toBe(130);
    expect(r.output).toMatch(/ERR_CANCELLED/);
    expect(r.afterCtrlC_ms!).toBeLessThan(10_000);
    await consistent(ws, before);
  }, 180_000);

  it('in the middle of an import a resident engine runs (mirror serve): cancelled there, the engine serves the next import', async () => {
    const ws = join(tmp.dir, 'ws-engine');
    expect(mirror(['import', await smallBundle('engine-first.tar.zst'), '--workspace', ws, '--key', keyFile]).code).toBe(0);
    const before = mirror(['status', '--workspace', ws]).json.generation as number;
    const serve = spawn(process.execPath, [CLI, 'serve', '--workspace', ws], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    serve.stdout.on('data', (c: Buffer) => (log += c.toString()));
    serve.stderr.on('data', (c: Buffer) => (log += c.toString()));
    try {
      await until(() => log.includes('mirror serve: serving'), () => log);
      // The pty's ^C reaches the client's process group only: the engine learns of it from the client.
      const r = underPty(['import', await bigBundle('big-engine.tar.zst'), '--workspace', ws, '--key', keyFile], 'MiB / ', { OKC_ENGINE: 'trace' });
      latencies.importInEngine = r.afterCtrlC_ms;
      expect(r.output).toMatch(/engine: forwarded to /);
      expect(r.sent, r.output).toBe(true);
      expect(r.code, r.output).toBe(130);
      expect(r.output).toMatch(/ERR_CANCELLED/);
      expect(r.afterCtrlC_ms!).toBeLessThan(10_000);
      await until(() => /import for pid \d+: exit 130 .*\(cancelled\)/.test(log), () => log);
      expect(serve.exitCode).toBe(null);
      // `consistent` runs its commands with the engine still serving: its import goes to the engine.
      await consistent(ws, before);
      await until(() => /import for pid \d+: exit 0/.test(log), () => log);
    } finally {
      serve.kill('SIGTERM');
      await new Promise((resolve) => serve.once('exit', resolve));
    }
    expect(log).toMatch(/mirror serve: stopped/);
  }, 180_000);

  it('at the fingerprint prompt of keys add: nothing is trusted', async () => {
    const ws = join(tmp.dir, 'ws-keys');
    expect(mirror(['import', await smallBundle('keys-first.tar.zst'), '--workspace', ws, '--key', keyFile]).code).toBe(0);
    const r = underPty(['keys', 'add', keyFile, '--tenant', 'acme', '--reason', 'CHG-1 test', '--workspace', ws], 'Type "yes"');
    latencies.keysPrompt = r.afterCtrlC_ms;
    expect(r.sent, r.output).toBe(true);
    expect(r.code, r.output).toBe(130);
    expect(r.output).toMatch(/ERR_CANCELLED/);
    expect(r.afterCtrlC_ms!).toBeLessThan(10_000);
    expect(mirror(['keys', 'list', '--workspace', ws]).json).toMatchObject({ keys: [] });
    await consistent(ws, mirror(['status', '--workspace', ws]).json.generation as number);
  }, 180_000);

  it('at a manual step of a checklist: the run keeps what was recorded', async () => {
    const ws = join(tmp.dir, 'ws-checklist');
    expect(mirror(['import', await smallBundle('cl-first.tar.zst'), '--workspace', ws, '--key', keyFile]).code).toBe(0);
    const r = underPty(['checklist', 'run', 'weekly', '--workspace', ws, '--operator', 'dana'], '? ');
    latencies.checklistPrompt = r.afterCtrlC_ms;
    expect(r.sent, r.output).toBe(true);
    expect(r.code, r.output).toBe(130);
    expect(r.output).toMatch(/ERR_CANCELLED/);
    expect(r.afterCtrlC_ms!).toBeLessThan(10_000);
    await consistent(ws, mirror(['status', '--workspace', ws]).json.generation as number);
  }, 180_000);
});
