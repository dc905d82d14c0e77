/**
 * The Electronegativity step of `npm test` (build/electronegativity.mjs):
 * the real scanner over the real electron/ and renderer/, with the checked-in
 * list of accepted findings. A new finding fails it; an accepted entry that no
 * longer matches fails it; an entry without a reason is refused.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../electron/services/testing/fixtures';
// @ts-expect-error build/electronegativity.mjs is plain JavaScript without type declarations
import * as mod from './electronegativity.mjs';

interface Finding {
  id: string;
  file: string;
  line: number;
  sample: string;
  description: string;
  severity: string;
  confidence: string;
}
interface Entry {
  id: string;
  file: string;
  sample: string;
  reason: string;
}
interface Api {
  loadConfig(file?: string): { roots: string[]; accepted: Entry[]; disabledChecks: { check: string; reason: string }[] };
  compare(findings: Finding[], accepted: Entry[]): { accepted: { finding: Finding; entry: Entry }[]; fresh: Finding[]; stale: Entry[] };
  scan(opts: { links: [string, string][]; electronVersion: string | undefined; disabledChecks: string[] }): Promise<{ findings: Finding[]; errors: unknown[]; checks: number }>;
  check(opts?: { root?: string; configFile?: string; extraLinks?: [string, string][] }): Promise<{ ok: boolean; lines: string[]; fresh: Finding[]; stale: Entry[]; errors: unknown[] }>;
}
const en = mod as Api;

const tmp = tempDir('okc-electronegativity-test-');
afterAll(() => tmp.cleanup());

const finding = (id: string, file: string, sample: string): Finding => ({ id, file, line: 1, sample, description: 'd', severity: 'MEDIUM', confidence: 'FIRM' });
const entry = (id: string, file: string, sample: string): Entry => ({ id, file, sample, reason: 'a reason long enough to be one' });

describe('the accepted-findings list', () => {
  it('matches a finding by check, file and flagged text; anything else is new, and an entry matching nothing is stale', () => {
    const accepted = [entry('AUXCLICK_JS_CHECK', 'electron/main/main.ts', 'const win = new BrowserWindow({'), entry('PRELOAD_JS_CHECK', 'electron/main/main.ts', 'preload: preloadFile,')];
    const r = en.compare(
      [
        finding('AUXCLICK_JS_CHECK', 'electron/main/main.ts', 'const win = new BrowserWindow({'),
        // Same check, same file, different line of code: reviewed again.
        finding('PRELOAD_JS_CHECK', 'electron/main/main.ts', 'preload: somethingElse,'),
        finding('NODE_INTEGRATION_JS_CHECK', 'electron/main/main.ts', 'nodeIntegration: true,'),
      ],
      accepted,
    );
    expect(r.accepted.map((a) => a.finding.id)).toEqual(['AUXCLICK_JS_CHECK']);
    expect(r.fresh.map((f) => f.id)).toEqual(['PRELOAD_JS_CHECK', 'NODE_INTEGRATION_JS_CHECK']);
    expect(r.stale.map((a) => a.sample)).toEqual(['preload: preloadFile,']);
  });

  it('the checked-in list gives a reason for each accepted finding and disabled check', () => {
    const c = en.loadConfig();
    expect(c.roots).toEqual(['electron', 'renderer']);
    expect(c.accepted.map((a) => a.id).sort()).toEqual(['AUXCLICK_JS_CHECK', 'CSP_GLOBAL_CHECK', 'PRELOAD_JS_CHECK']);
    expect(c.disabledChecks.map((d) => d.check)).toEqual(['AvailableSecurityFixesGlobalCheck']);
  });

  it('an entry without a reason is refused', () => {
    const file = join(tmp.dir, 'no-reason.json');
    writeFileSync(file, JSON.stringify({ roots: ['electron'], accepted: [{ id: 'AUXCLICK_JS_CHECK', file: 'electron/main/main.ts', sample: 'x', reason: '' }] }));
    expect(() => en.loadConfig(file)).toThrow(/AUXCLICK_JS_CHECK.*give the reason/);
  });
});

describe('the scan (real scanner, real sources, no network)', () => {
  it('passes on the repository with the checked-in list, and a new finding fails it, named with file and line', async () => {
    const clean = await en.check();
    expect(clean.lines.join('\n')).toContain('Electron 38.4.0');
    expect(clean.errors).toEqual([]);
    expect(clean.fresh).toEqual([]);
    expect(clean.stale).toEqual([]);
    expect(clean.ok).toBe(true);

    // A window that turns the isolation off, in an extra folder scanned with the real ones.
    const extra = join(tmp.dir, 'extra');
    mkdirSync(extra, { recursive: true });
    writeFileSync(
      join(extra, 'bad-window.ts'),
      ["import { BrowserWindow } from 'electron';", 'export const w = new BrowserWindow({', '  webPreferences: { nodeIntegration: true, contextIsolation: false, sandbox: false },', '});', ''].join('\n'),
    );
    const dirty = await en.check({ extraLinks: [['extra', extra]] });
    expect(dirty.ok).toBe(false);
    const ids = dirty.fresh.map((f) => f.id);
    expect(ids).toEqual(expect.arrayContaining(['CONTEXT_ISOLATION_JS_CHECK', 'SANDBOX_JS_CHECK']));
    expect(dirty.fresh.every((f) => f.file === 'extra/bad-window.ts')).toBe(true);
    expect(dirty.stale).toEqual([]);
    const out = dirty.lines.join('\n');
    expect(out).toMatch(/NEW {7}CONTEXT_ISOLATION_JS_CHECK {2}extra\/bad-window\.ts:\d+/);
    expect(out).toContain('new finding(s)');
  });

  it('without the pinned Electron version the scanner raises REMOTE_MODULE (why the config passes the version)', async () => {
    const r = await en.scan({ links: [['electron', join(REPO_ROOT, 'electron')]], electronVersion: undefined, disabledChecks: ['AvailableSecurityFixesGlobalCheck'] });
    expect(r.findings.map((f) => f.id)).toContain('REMOTE_MODULE_JS_CHECK');
    const pinned = await en.scan({ links: [['electron', join(REPO_ROOT, 'electron')]], electronVersion: '38.4.0', disabledChecks: ['AvailableSecurityFixesGlobalCheck'] });
    expect(pinned.findings.map((f) => f.id)).not.toContain('REMOTE_MODULE_JS_CHECK');
  });
});
