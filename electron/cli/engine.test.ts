/**
 * The resident engine (`mirror serve`) and the launcher's forwarding of an
 * `import` to it, run as operators run them: the built CLI (dist/cli, `node
 * build/build.mjs cli`), real workspaces, real bundles and a real socket.
 * `OKC_ENGINE=trace` makes the launcher say on stderr which way it went.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, writeMirrorBundle, type SigningKey } from '../services/producer/index';
import { REPO_ROOT, SHARED_DIR, tempDir } from '../services/testing/fixtures';
import { engineSocketPath } from './engine-link';

const CLI_DIR = join(REPO_ROOT, 'dist', 'cli');
const CLI = join(CLI_DIR, 'mirror.cjs');
const KIT = join(SHARED_DIR, 'fixtures', 'kits', 'ecdsa-p256');
const FULL = join(KIT, 'mirror', 'mirror-20251029-full.tar.zst');
const DELTA1 = join(KIT, 'mirror', 'mirror-20251101-delta.tar.zst');
const DELTA2 = join(KIT, 'mirror', 'mirror-20251102-delta.tar.zst');
const KIT_KEY = join(KIT, 'keys', 'export-center.pub');
const haveKit = existsSync(FULL);

let tmp: { dir: string; cleanup: () => void };
let key: SigningKey;
let keyFile: string;
const engines: ChildProcess[] = [];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function mirror(args: string[], opts: { env?: Record<string, string>; cwd?: string; cli?: string } = {}): Run {
  const r = spawnSync(opts.cli ?? CLI, args, { encoding: 'utf8', timeout: 180_000, cwd: opts.cwd ?? tmp.dir, env: { ...process.env, OKC_ENGINE: 'trace', ...opts.env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const route = (r: Run): string => (/^engine: forwarded to /m.test(r.stderr) ? 'engine' : 'here');

/** An import's JSON report without what differs between two runs of it (timings, the workspace path). */
function report(stdout: string): unknown {
  const j = JSON.parse(stdout) as Record<string, unknown>;
  const strip = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(strip)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).filter(([k]) => !/Seconds$|^seconds$|^workspace$|^at$|^appliedAt$|^jobId$/.test(k)).map(([k, x]) => [k, strip(x)]))
        : v;
  return strip(j);
}

async function until(ok: () => boolean, what: () => string, ms = 30_000): Promise<void> {
  for (let waited = 0; waited < ms && !ok(); waited += 50) await new Promise((r) => setTimeout(r, 50));
  expect(ok(), what()).toBe(true);
}

/** Starts `mirror serve` on ws and waits until it serves. */
async function serve(ws: string, extra: string[] = []): Promise<{ child: ChildProcess; log: () => string; exited: Promise<number | null>; stop: () => Promise<number | null> }> {
  const child = spawn(CLI, ['serve', '--workspace', ws, ...extra], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
  engines.push(child);
  let text = '';
  child.stdout!.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (text += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await until(() => text.includes('mirror serve: serving') || text.includes('"event":"serving"') || child.exitCode !== null, () => text);
  return {
    child,
    log: () => text,
    exited,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

async function bundleOf(name: string, generation: number, files: number): Promise<string> {
  const file = join(tmp.dir, name);
  await writeMirrorBundle(file, {
    key,
    tenant: 'acme',
    profileId: 'nightly',
    generation,
    files: Array.from({ length: files }, (_, i) => ({ path: `data/raw/advisories/part-${i}.jsonl.zst`, content: { size: 4 << 20, seed: `${name}-${i}` } })),
  });
  return file;
}

/**
 * An import under way through the engine on ws: generation 1 applied first, then a 192 MiB bundle
 * (generation 2) whose import has taken the workspace (its lock file) and begun to write.
 */
async function importUnderWay(ws: string, name: string): Promise<{ big: string; client: ChildProcess; output: () => string; exit: Promise<number | null> }> {
  expect(mirror(['import', await bundleOf(`${name}-1.tar.zst`, 1, 1), '--workspace', ws, '--key', keyFile]).code).toBe(0);
  const big = await bundleOf(`${name}-2.tar.zst`, 2, 48);
  const client = spawn(CLI, ['import', big, '--workspace', ws, '--key', keyFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OKC_ENGINE: 'trace' } });
  let out = '';
  client.stdout.on('data', (c: Buffer) => (out += c.toString()));
  client.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exit = new Promise<number | null>((resolve) => client.once('exit', (c) => resolve(c)));
  await until(() => existsSync(join(ws, 'lock')) && readdirSync(join(ws, 'incoming')).length > 0, () => out);
  return { big, client, output: () => out, exit };
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`node build/build.mjs cli\` first (npm test builds it).`);
  tmp = tempDir('okc-engine-');
  key = generateSigningKey('ecdsa-p256');
  keyFile = join(tmp.dir, 'trusted.pub');
  writeFileSync(keyFile, key.publicPem);
});
afterAll(() => {
  for (const e of engines) if (e.exitCode === null) e.kill('SIGKILL');
  tmp.cleanup();
});

describe('mirror serve: imports on the served workspace run in the engine', () => {
  it.skipIf(!haveKit)('gives the same reports and exit codes as an import in its own process; relative paths are the client\'s', async () => {
    const served = join(tmp.dir, 'ws-served');
    const own = join(tmp.dir, 'ws-own');
    const engine = await serve(served);
    try {
      expect(statSync(join(served, 'engine')).mode & 0o777).toBe(0o700);
      expect(statSync(engineSocketPath(served)).mode & 0o777).toBe(0o600);
      // From the kit's folder, with paths relative to it: the engine resolves them against the client's cwd.
      const cwd = join(KIT, 'mirror');
      const steps: [string, number][] = [
        [FULL, 0],
        [DELTA2, 8], // out of order: generation 2 is missing
        [DELTA1, 0],
        [DELTA1, 8], // a replay
        [DELTA2, 0],
      ];
      for (const [bundle, code] of steps) {
        const rel = relative(cwd, bundle);
        const there = mirror(['import', rel, '--workspace', served, '--key', KIT_KEY, '--json'], { cwd });
        const here = mirror(['import', rel, '--workspace', own, '--key', KIT_KEY, '--json'], { cwd, env: { OKC_ENGINE: 'off' } });
        expect(route(there), there.stderr).toBe('engine');
        expect(route(here)).toBe('here');
        expect(there.code, there.stdout).toBe(code);
        expect(here.code).toBe(code);
        expect(report(there.stdout)).toEqual(report(here.stdout));
        expect((JSON.parse(there.stdout) as { workspace: string }).workspace).toBe(served);
      }
      // The readable report and the stderr notes come through as well.
      const text = mirror(['import', FULL, '--workspace', served, '--key', KIT_KEY]);
      expect(route(text)).toBe('engine');
      expect(text.code).toBe(8);
      expect(text.stdout).toMatch(/^STOPPED \[ERR_IMPORT_NON_MONOTONIC\]\n/);
      expect(text.stdout).toMatch(/what to do: /);
      // One log line per import served; the audit chain holds and records what the imports did.
      await until(() => (engine.log().match(/import for pid \d+: exit \d+/g) ?? []).length === steps.length + 1, () => engine.log());
      expect(engine.log()).toMatch(/exit 8 in/);
      expect(mirror(['audit', 'verify', '--workspace', served]).code).toBe(0);
      const st = JSON.parse(mirror(['status', '--workspace', served, '--json']).stdout) as { generation: number; engine: unknown };
      expect(st.generation).toBe(3);
      expect(st.engine).toMatchObject({ pid: engine.child.pid, alive: true });
      expect(mirror(['status', '--workspace', served]).stdout).toMatch(new RegExp(`^engine: mirror serve \\(pid ${engine.child.pid}, since .*\\) serves this workspace`, 'm'));
      // A second engine on the same workspace is refused.
      const second = mirror(['serve', '--workspace', served]);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/ERR_WORKSPACE_BUSY.*already serves/);
      expect(second.stderr).toMatch(new RegExp(`already serves .* \\(pid ${engine.child.pid} since `));
    } finally {
      expect(await engine.stop()).toBe(0);
    }
    // Stopped: the socket is gone and imports run in their own process again.
    expect(existsSync(engineSocketPath(served))).toBe(false);
    expect((JSON.parse(mirror(['status', '--workspace', served, '--json']).stdout) as { engine: unknown }).engine).toBe(null);
    expect(engine.log()).toMatch(/mirror serve: stopped/);
    const after = mirror(['import', DELTA2, '--workspace', served, '--key', KIT_KEY, '--json']);
    expect(route(after)).toBe('here');
    expect(after.stderr).toMatch(/engine: none at /);
    expect(after.code).toBe(8); // generation 3 is staged already
    expect(JSON.parse(after.stdout)).toMatchObject({ code: 'ERR_IMPORT_NON_MONOTONIC', generation: 3 });
  }, 120_000);

  it.skipIf(!haveKit)('runs the import in its own process when the engine was killed, or runs another build', async () => {
    const ws = join(tmp.dir, 'ws-fallback');
    const engine = await serve(ws);
    engine.child.kill('SIGKILL');
    await engine.exited; // reaped
    expect(existsSync(engineSocketPath(ws))).toBe(true); // left behind by the killed engine
    expect(mirror(['status', '--workspace', ws]).stdout).toMatch(/^engine: none \(the last one, pid \d+, was killed/m);
    const stale = mirror(['import', FULL, '--workspace', ws, '--key', KIT_KEY, '--json']);
    expect(stale.stderr).toMatch(/engine: not reachable at .*ECONNREFUSED.*running here/);
    expect(stale.code, stale.stdout).toBe(0);
    // A new engine takes the stale socket over.
    const again = await serve(ws);
    // Another build: a copy of the CLI (as after an upgrade in place: the same file names, other
    // files) is refused by the engine, and runs here.
    const other = join(tmp.dir, 'cli-other');
    mkdirSync(other);
    for (const f of readdirSync(CLI_DIR).filter((n) => n.endsWith('.cjs'))) copyFileSync(join(CLI_DIR, f), join(other, f));
    chmodSync(join(other, 'mirror.cjs'), 0o755);
    utimesSync(join(other, readdirSync(CLI_DIR).find((f) => /^mirror-.*\.cjs$/.test(f))!), new Date(), new Date(Date.now() - 3_600_000));
    try {
      const r = mirror(['import', DELTA1, '--workspace', ws, '--key', KIT_KEY, '--json'], { cli: join(other, 'mirror.cjs'), env: { NODE_PATH: join(REPO_ROOT, 'node_modules') } });
      const [, theirs, ours] = /engine: refused: the engine runs (\S+), this is (\S+);/.exec(r.stderr) ?? [];
      expect(theirs, r.stderr).toMatch(/^mirror-.*\.cjs:\d+:\d+$/);
      expect(ours).not.toBe(theirs);
      expect(r.stderr).toMatch(/note: the engine serving .* runs another build of mirror/);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(again.log()).not.toMatch(/import for pid/);
      // A socket of another user: this user's import is not handed to that user's engine.
      const uid = process.getuid?.();
      if (uid === 0) {
        chownSync(engineSocketPath(ws), 65534, 65534);
        const foreign = mirror(['import', DELTA2, '--workspace', ws, '--key', KIT_KEY, '--dry-run', '--json']);
        expect(foreign.stderr).toMatch(/engine: .*sock belongs to uid 65534, not to this user \(uid 0\); running here/);
        expect(foreign.code, foreign.stdout).toBe(0);
        chownSync(engineSocketPath(ws), 0, 0);
      }
      // The engine's own build still goes to it.
      const mine = mirror(['import', DELTA2, '--workspace', ws, '--key', KIT_KEY, '--json']);
      expect(route(mine)).toBe('engine');
      expect(mine.code).toBe(0);
    } finally {
      expect(await again.stop()).toBe(0);
    }
  }, 120_000);

  it('drops a peer that does not speak its protocol, refuses other commands, and goes on serving', async () => {
    const ws = join(tmp.dir, 'ws-protocol');
    const engine = await serve(ws);
    const ask = (payload: string): Promise<string> =>
      new Promise((resolve) => {
        const c = connect(engineSocketPath(ws));
        let got = '';
        c.on('data', (d) => (got += d.toString()));
        c.on('close', () => resolve(got));
        c.on('error', () => resolve(got));
        c.on('connect', () => c.write(payload));
      });
    const build = JSON.parse(readFileSync(join(ws, 'engine', 'pid'), 'utf8')) as { build: string; pid: number };
    expect(build.pid).toBe(engine.child.pid);
    try {
      expect(await ask('not json\n')).toBe('');
      expect(await ask('x'.repeat(2 * 1024 * 1024))).toBe(''); // over the request's size limit, no line end
      const request = { t: 'run', v: 1, build: build.build, argv: ['status', '--workspace', ws], cwd: tmp.dir, env: {}, tty: { stdout: false, stderr: false }, pid: 1 };
      expect(JSON.parse(await ask(JSON.stringify(request) + '\n'))).toEqual({ t: 'refused', reason: 'request', build: build.build });
      expect(JSON.parse(await ask(JSON.stringify({ ...request, argv: ['import', '--help'], v: 99 }) + '\n'))).toMatchObject({ reason: 'protocol' });
      // A well-formed import request straight on the socket: the frames of a command and its exit code.
      const frames = (await ask(JSON.stringify({ ...request, argv: ['import', join(tmp.dir, 'missing.tar.zst'), '--workspace', ws, '--key', keyFile, '--json'] }) + '\n'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { t: string; d?: string; code?: number });
      expect(frames[0]).toEqual({ t: 'ok' });
      expect(frames.at(-1)).toEqual({ t: 'x', code: 1 });
      expect(JSON.parse(frames.filter((f) => f.t === 'o').map((f) => f.d).join(''))).toMatchObject({ ok: false, code: 'ERR_INPUT_NOT_FOUND' });
      const small = await bundleOf('after-junk.tar.zst', 1, 1);
      const r = mirror(['import', small, '--workspace', ws, '--key', keyFile, '--json']);
      expect(route(r)).toBe('engine');
      expect(r.code, r.stdout).toBe(0);
    } finally {
      expect(await engine.stop()).toBe(0);
    }
  }, 120_000);

  it('an engine killed during an import: the client says ERR_ENGINE_LOST; the next import recovers and applies', async () => {
    const ws = join(tmp.dir, 'ws-killed');
    const engine = await serve(ws);
    const { big, output, exit } = await importUnderWay(ws, 'killed');
    engine.child.kill('SIGKILL');
    expect(await exit).toBe(1);
    await engine.exited; // reaped: its lock is seen as stale
    const out = output();
    expect(out).toMatch(/engine: forwarded to /);
    expect(out).toMatch(/error \[ERR_ENGINE_LOST\]: The engine serving .* stopped before the import finished/);
    const st = JSON.parse(mirror(['status', '--workspace', ws, '--json']).stdout) as { generation: number };
    expect(st.generation).toBe(1);
    const again = mirror(['import', big, '--workspace', ws, '--key', keyFile, '--json']);
    expect(route(again)).toBe('here');
    expect(again.code, again.stdout).toBe(0);
    expect(mirror(['audit', 'verify', '--workspace', ws]).code).toBe(0);
  }, 180_000);

  it('a client killed during an import: the engine cancels it, staging keeps its generation, the engine serves on', async () => {
    const ws = join(tmp.dir, 'ws-client-killed');
    const engine = await serve(ws);
    try {
      const { big, client } = await importUnderWay(ws, 'client');
      // A second import meanwhile meets the workspace lock, as a second process would.
      const second = mirror(['import', big, '--workspace', ws, '--key', keyFile]);
      expect(route(second)).toBe('engine');
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(new RegExp(`error \\[ERR_WORKSPACE_BUSY\\]: The workspace is busy: another command in the same process \\(pid ${engine.child.pid}: the desktop app, or mirror serve\\) holds it`));
      client.kill('SIGKILL');
      await until(() => /import for pid \d+: exit 130 .*\(cancelled\)/.test(engine.log()), () => engine.log());
      const st = JSON.parse(mirror(['status', '--workspace', ws, '--json']).stdout) as { generation: number; lock: unknown };
      expect(st.generation).toBe(1);
      expect(readdirSync(join(ws, 'incoming'))).toEqual([]);
      const next = mirror(['import', big, '--workspace', ws, '--key', keyFile, '--json']);
      expect(route(next)).toBe('engine');
      expect(next.code, next.stdout).toBe(0);
    } finally {
      expect(await engine.stop()).toBe(0);
    }
  }, 180_000);

  it('--json: one JSON object per line and event, for a supervisor', async () => {
    const ws = join(tmp.dir, 'ws-json');
    const engine = await serve(ws, ['--json']);
    const r = mirror(['import', await bundleOf('json-1.tar.zst', 1, 1), '--workspace', ws, '--key', keyFile]);
    expect(route(r)).toBe('engine');
    expect(r.code).toBe(0);
    await until(() => engine.log().includes('"event":"served"'), () => engine.log());
    expect(await engine.stop()).toBe(0);
    const events = engine.log().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => e.event)).toEqual(['serving', 'served', 'stopped']);
    expect(events[0]).toMatchObject({ workspace: ws, pid: engine.child.pid, socket: engineSocketPath(ws) });
    expect(events[1]).toMatchObject({ command: 'import', exitCode: 0, cancelled: false });
    expect(typeof events[1].seconds).toBe('number');
  }, 60_000);

  it('refuses a workspace path too long for a socket, and a folder that is not a workspace', () => {
    const long = join(tmp.dir, 'w'.repeat(120));
    const r = mirror(['serve', '--workspace', long]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/ERR_USAGE.*too long for the engine's socket/);
    expect(existsSync(long)).toBe(false);
    const foreign = join(tmp.dir, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'mine');
    const f = mirror(['serve', '--workspace', foreign]);
    expect(f.code).toBe(1);
    expect(f.stderr).toMatch(/ERR_WORKSPACE_INVALID/);
    expect(readdirSync(foreign)).toEqual(['notes.txt']);
  });
});
