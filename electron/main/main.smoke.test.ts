/**
 * Runs the REAL main process (electron/main/main.ts, bundled as the build
 * does) in plain Node against a fake Electron (testing/fake-electron.mjs), and
 * checks what it configures: the hardened window, the app:// protocol with its
 * CSP, the handler table behind the sender check, lockdown of navigation, new
 * windows, permissions and network, and a clean quit. The Electron e2e covers
 * the same with a real Electron where a binary exists.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNELS } from '../../shared/contract';
import { OPERATOR_TOPICS } from '../../shared/operator-topics';
import { REPO_ROOT } from '../services/testing/fixtures';

interface Report {
  privilegedSchemes: { scheme: string; privileges: Record<string, boolean> }[];
  sandboxEnabled: boolean;
  singleInstanceAsked: boolean;
  windows: { webPreferences: Record<string, unknown> }[];
  loadedUrls: string[];
  protocolScheme: string;
  protocol: { index: { status: number; csp: string; body: string }; escape: { status: number }; cspByUrl: Record<string, { status: number; csp: string }> };
  ipc: {
    channels: string[];
    trusted: { ok: boolean; value?: { workspacePath: string; host: string; versions: { node: string } } };
    foreign: { ok: boolean; error?: { code: string } };
    noFrame: { ok: boolean; error?: { code: string } };
    badInput: { ok: boolean; error?: { code: string } };
  };
  lockdown: { prevented: Record<string, boolean>; windowOpen: { action: string } | null };
  permissions: { request: boolean | null; check: boolean | null };
  network: Record<string, boolean>;
  quit: { firstPrevented: boolean; secondPrevented: boolean; quitCalls: number };
  errors: string[];
  exitCode: number | null;
  switches: string[];
  nativeBindingEnv: string | null;
  menu: { label: string; items: string[] }[] | null;
  helpOpened: string[];
}

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

/** Runs the built main process under the fake Electron, with extra environment and user arguments. */
function runMain(root: string, extraEnv: NodeJS.ProcessEnv = {}, args: string[] = [], name = 'report'): { report: Report; stdout: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, FAKE_ELECTRON_REPORT: join(root, `${name}.json`), FAKE_USER_DATA: join(root, 'userData'), ...extraEnv };
  delete env.OKC_WORKSPACE;
  if (!('OKC_SQLITE_NATIVE_BINDING' in extraEnv)) delete env.OKC_SQLITE_NATIVE_BINDING;
  const r = spawnSync(process.execPath, ['--import', join(REPO_ROOT, 'electron/main/testing/register-fake-electron.mjs'), join(root, 'dist', 'main', 'main.mjs'), ...args], {
    cwd: root,
    env,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`main process exited ${r.status}: ${r.stderr}`);
  return { report: JSON.parse(readFileSync(join(root, `${name}.json`), 'utf8')) as Report, stdout: r.stdout };
}

describe('the Electron main process, run against a fake Electron', () => {
  const root = join(REPO_ROOT, '.tmp', `main-smoke-${process.pid}-${Date.now()}`);
  let report: Report;

  beforeAll(async () => {
    mkdirSync(join(root, 'dist', 'renderer'), { recursive: true });
    writeFileSync(join(root, 'dist', 'renderer', 'index.html'), '<!doctype html><title>console</title>');
    await build({
      entryPoints: [join(REPO_ROOT, 'electron/main/main.ts')],
      outfile: join(root, 'dist', 'main', 'main.mjs'),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      external: ['electron', 'better-sqlite3', 'zstd-napi', '@sigstore/*', 'age-encryption', 'tar', 'yaml', 'zod'],
      define: { __APP_VERSION__: JSON.stringify(pkg.version) },
      logLevel: 'error',
    });
    report = runMain(root).report;
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('starts without errors, asks for the single-instance lock and enables the sandbox everywhere', () => {
    expect(report.errors).toEqual([]);
    expect(report.singleInstanceAsked).toBe(true);
    expect(report.sandboxEnabled).toBe(true);
  });

  it('opens one hardened window on app://console/', () => {
    expect(report.windows).toHaveLength(1);
    expect(report.windows[0].webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
    });
    expect(String(report.windows[0].webPreferences.preload)).toMatch(/dist[/\\]preload[/\\]preload\.cjs$/);
    expect(report.loadedUrls).toEqual(['app://console/index.html']);
  });

  it('serves the renderer on the app:// protocol with the strict CSP, and nothing outside it', () => {
    expect(report.privilegedSchemes[0]).toMatchObject({ scheme: 'app', privileges: { standard: true, secure: true } });
    expect(report.protocolScheme).toBe('app');
    expect(report.protocol.index.status).toBe(200);
    expect(report.protocol.index.body).toContain('<title>console</title>');
    expect(report.protocol.index.csp).toBe("default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
    expect(report.protocol.escape.status).toBe(404);
    const CSP = "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
    expect(Object.values(report.protocol.cspByUrl).map((r) => r.csp)).toEqual([CSP, CSP, CSP, CSP, CSP]);
    expect(Object.values(report.protocol.cspByUrl).map((r) => r.status)).toEqual([200, 200, 404, 404, 404]);
  });

  it('registers every contract channel behind the sender check and the zod schemas', () => {
    expect(report.ipc.channels).toEqual([...CHANNELS].sort());
    expect(report.ipc.trusted.ok).toBe(true);
    expect(report.ipc.trusted.value?.host).toBe('electron');
    expect(report.ipc.trusted.value?.workspacePath).toBe(join(root, 'userData', 'workspace'));
    expect(report.ipc.foreign).toMatchObject({ ok: false, error: { code: 'ERR_IPC_SENDER' } });
    expect(report.ipc.noFrame).toMatchObject({ ok: false, error: { code: 'ERR_IPC_SENDER' } });
    expect(report.ipc.badInput).toMatchObject({ ok: false, error: { code: 'ERR_IPC_INPUT' } });
  });

  it('blocks navigation, new windows, webviews, permission requests and the network', () => {
    expect(report.lockdown.prevented).toEqual({ 'will-navigate': true, 'will-redirect': true, 'will-attach-webview': true });
    expect(report.lockdown.windowOpen).toEqual({ action: 'deny' });
    expect(report.permissions).toEqual({ request: false, check: false });
    expect(report.network).toEqual({
      'https://example.com/': true,
      'http://127.0.0.1:8080/': true,
      'app://console/assets/x.js': false,
      'file:///etc/passwd': true,
      'ws://127.0.0.1:9222/': true,
      'data:text/html,x': true,
      'app://other/x.js': true,
      'blob:app://console/1': true,
    });
  });

  it('disposes (jobs, database) before quitting, once', () => {
    expect(report.quit).toEqual({ firstPrevented: true, secondPrevented: false, quitCalls: 2 });
  });

  it('a packaged app drops development overrides: OKC_SQLITE_NATIVE_BINDING never reaches the database layer', () => {
    const dev = runMain(root, { OKC_SQLITE_NATIVE_BINDING: '/tmp/evil/better_sqlite3.node' }, [], 'dev');
    expect(dev.report.nativeBindingEnv).toBe('/tmp/evil/better_sqlite3.node');
    const packaged = runMain(root, { OKC_SQLITE_NATIVE_BINDING: '/tmp/evil/better_sqlite3.node', FAKE_ELECTRON_PACKAGED: '1' }, [], 'packaged');
    expect(packaged.report.errors).toEqual([]);
    expect(packaged.report.nativeBindingEnv).toBeNull();
    // DevTools are off in a packaged app.
    expect(packaged.report.windows[0].webPreferences.devTools).toBe(false);
  });

  it('`<app> mirror …` runs the CLI with no window and leaves with its exit code', () => {
    const r = runMain(root, { FAKE_EXPECT_EXIT: '1' }, ['mirror', '--version'], 'headless');
    expect(r.report.errors).toEqual([]);
    expect(r.report.windows).toEqual([]);
    expect(r.report.singleInstanceAsked).toBe(false);
    expect(r.report.switches).toContain('ozone-platform=headless');
    expect(r.report.exitCode).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
    const bad = runMain(root, { FAKE_EXPECT_EXIT: '1' }, ['mirror', 'no-such-command'], 'headless-bad');
    expect(bad.report.exitCode).toBe(4);
  });

  it('has a Help menu opening each page of the operator guide shipped with the app', () => {
    const help = report.menu?.find((m) => m.label === 'Help');
    expect(help?.items).toEqual(['Operator guide', 'separator', ...OPERATOR_TOPICS.map((t) => t.title)]);
    const docs = join(REPO_ROOT, 'docs', 'operator');
    expect(report.helpOpened).toEqual([join(docs, 'README.md'), ...OPERATOR_TOPICS.map((t) => join(docs, t.file))]);
    for (const f of report.helpOpened) expect(existsSync(f), f).toBe(true);
  });
});
