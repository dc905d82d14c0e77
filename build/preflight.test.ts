/**
 * The `npm test` preflight's decision logic, with injected probes: nothing
 * here looks at or changes the real system.
 */
import { describe, expect, it } from 'vitest';
// @ts-expect-error build/preflight.mjs is plain JavaScript without type declarations
import * as preflightModule from './preflight.mjs';

interface Probed {
  name: string;
  apt: string;
  why: string;
  path: string | null;
}
type Decision =
  | { action: 'ok' }
  | { action: 'install'; packages: string[]; commands: string[][]; message: string }
  | { action: 'stop'; packages: string[]; command: string; message: string };
interface PreflightApi {
  TOOLS: { name: string; commands: string[]; env?: string; apt: string }[];
  which(c: string, env: Record<string, string | undefined>, isExecutable: (f: string) => boolean): string | null;
  probeTools(tools: unknown, env: Record<string, string | undefined>, find: (c: string) => string | null): Probed[];
  decide(facts: { probed: Probed[]; isRoot: boolean; hasApt: boolean }): Decision;
  runPreflight(opts: {
    env?: Record<string, string | undefined>;
    probe: () => Probed[];
    isRoot: boolean;
    hasApt: boolean;
    exec: (cmd: string, args: string[]) => number;
    log: (line: string) => void;
  }): { ok: boolean; env: Record<string, string> };
}
const pf = preflightModule as PreflightApi;

/** A fake system: the set of executables that exist. */
const system = (files: string[]) => {
  const set = new Set(files);
  return (f: string) => set.has(f);
};
const ALL = ['/usr/bin/age', '/usr/bin/age-keygen', '/usr/bin/zstd', '/usr/bin/openssl', '/usr/bin/sqlite3', '/usr/bin/chromium', '/usr/bin/xvfb-run'];
const env = { PATH: '/usr/local/bin:/usr/bin' };
const probeOn = (files: string[], e: Record<string, string | undefined> = env) => () => {
  const exists = system(files);
  return pf.probeTools(pf.TOOLS, e, (c) => pf.which(c, e, exists));
};

describe('npm test preflight', () => {
  it('lists every tool the suite runs, each with the Debian package that provides it', () => {
    expect(pf.TOOLS.map((t) => [t.name, t.apt])).toEqual([
      ['age', 'age'],
      ['age-keygen', 'age'],
      ['zstd', 'zstd'],
      ['openssl', 'openssl'],
      ['sqlite3', 'sqlite3'],
      ['Chromium', 'chromium'],
      ['xvfb-run', 'xvfb'],
    ]);
  });

  it('finds commands on PATH in order, and accepts any Chromium-family browser', () => {
    const exists = system(['/usr/bin/zstd', '/usr/local/bin/zstd', '/opt/bin/google-chrome']);
    expect(pf.which('zstd', env, exists)).toBe('/usr/local/bin/zstd');
    expect(pf.which('age', env, exists)).toBeNull();
    const probed = pf.probeTools(pf.TOOLS, { PATH: '/opt/bin' }, (c) => pf.which(c, { PATH: '/opt/bin' }, exists));
    expect(probed.find((p) => p.name === 'Chromium')?.path).toBe('/opt/bin/google-chrome');
  });

  it('an OKC_CHROMIUM that does not exist counts as missing (it is not silently replaced)', () => {
    const e = { ...env, OKC_CHROMIUM: '/nowhere/chrome' };
    const probed = probeOn(ALL, e)();
    expect(probed.find((p) => p.name === 'Chromium')?.path).toBeNull();
  });

  it('everything present: nothing to do, and the Chromium found is passed on to the test steps', () => {
    const log: string[] = [];
    const execs: string[] = [];
    const r = pf.runPreflight({ probe: probeOn(ALL), isRoot: false, hasApt: false, exec: (c) => (execs.push(c), 0), log: (l) => log.push(l) });
    expect(r).toEqual({ ok: true, env: { OKC_CHROMIUM: '/usr/bin/chromium' } });
    expect(execs).toEqual([]);
    expect(log).toEqual([]);
  });

  it('missing tools as root with apt-get: apt-get update, then one install of the packages, saying what and why', () => {
    const files = ALL.filter((f) => !/age|xvfb/.test(f));
    let installed = false;
    const execs: string[][] = [];
    const log: string[] = [];
    const r = pf.runPreflight({
      probe: () => probeOn(installed ? ALL : files)(),
      isRoot: true,
      hasApt: true,
      exec: (cmd, args) => {
        execs.push([cmd, ...args]);
        if (args[0] === 'install') installed = true;
        return 0;
      },
      log: (l) => log.push(l),
    });
    expect(r.ok).toBe(true);
    expect(execs).toEqual([
      ['apt-get', 'update'],
      ['apt-get', 'install', '-y', '--no-install-recommends', 'age', 'xvfb'],
    ]);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatch(/^preflight: installing age xvfb with apt-get, because the tests need age \(.+\), age-keygen \(.+\), xvfb-run \(.+\)\.$/);
  });

  it('missing tools, not root: stops at once with the exact sudo command, running nothing', () => {
    const execs: string[] = [];
    const log: string[] = [];
    const r = pf.runPreflight({
      probe: probeOn(ALL.filter((f) => !f.endsWith('chromium'))),
      isRoot: false,
      hasApt: true,
      exec: (c) => (execs.push(c), 0),
      log: (l) => log.push(l),
    });
    expect(r.ok).toBe(false);
    expect(execs).toEqual([]);
    expect(log.join('\n')).toContain('sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium');
    expect(log.join('\n')).toContain('not root');
  });

  it('missing tools, no apt-get (even as root): stops with the tools and their Debian names', () => {
    const d = pf.decide({ probed: probeOn(ALL.filter((f) => !f.endsWith('zstd')))(), isRoot: true, hasApt: false });
    expect(d.action).toBe('stop');
    if (d.action !== 'stop') return;
    expect(d.packages).toEqual(['zstd']);
    expect(d.command).toContain('zstd');
    expect(d.message).toContain('no apt-get');
  });

  it('a failing apt-get stops the run with the packages to install by hand', () => {
    const log: string[] = [];
    const r = pf.runPreflight({
      probe: probeOn(ALL.filter((f) => !f.endsWith('sqlite3'))),
      isRoot: true,
      hasApt: true,
      exec: (_c, args) => (args[0] === 'install' ? 100 : 0),
      log: (l) => log.push(l),
    });
    expect(r.ok).toBe(false);
    expect(log.at(-1)).toContain('install sqlite3 by hand');
  });

  it('apt-get succeeded but a tool is still missing: says which, and fails', () => {
    const log: string[] = [];
    const r = pf.runPreflight({
      probe: probeOn(ALL.filter((f) => !f.endsWith('openssl'))),
      isRoot: true,
      hasApt: true,
      exec: () => 0,
      log: (l) => log.push(l),
    });
    expect(r.ok).toBe(false);
    expect(log.at(-1)).toBe('preflight: still missing after apt-get: openssl.');
  });
});
