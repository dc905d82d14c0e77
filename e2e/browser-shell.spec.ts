/// <reference lib="dom" />
/**
 * `npm start` where no Electron binary exists: the console opens in the
 * installed Chromium (the browser shell, electron/browser/shell.ts) under
 * xvfb-run. The test attaches to that window through a debugging port the
 * shell opens only for tests (OKC_BROWSER_SHELL_TEST_DEBUG_PORT=1), imports the
 * demo kit through the UI, checks the shell's hardening from inside the page,
 * takes the README's screenshot, then closes the window (or presses Ctrl-C)
 * and checks that the shell released the workspace.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, expect, test, type Browser, type Page } from '@playwright/test';
import { REPO_ROOT, tempDir } from '../electron/services/testing/fixtures';
// @ts-expect-error build/start.mjs is plain JavaScript without type declarations
import { findElectron } from '../build/start.mjs';

test.describe.configure({ mode: 'serial' });
test.setTimeout(180_000);

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  browser: Browser;
  page: Page;
  userData: string;
  cleanup: () => Promise<void>;
}

async function waitFor<T>(what: string, probe: () => T | null | undefined, timeoutMs = 90_000): Promise<T> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    const v = probe();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

async function startConsole(): Promise<Started> {
  const tmp = tempDir('okc-browser-shell-');
  const userData = join(tmp.dir, 'userData');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OKC_USER_DATA: userData,
    OKC_START_SKIP_BUILD: '1', // npm test built everything before the e2e
    OKC_BROWSER_SHELL_TEST_DEBUG_PORT: '1',
  };
  delete env.OKC_WORKSPACE;
  delete env.OKC_SHELL;
  delete env.DISPLAY;
  // On a machine that has an Electron binary, the browser shell is forced (and says so).
  if ((findElectron() as { binary: string | null }).binary) env.OKC_SHELL = 'browser';
  let out = '';
  const child = spawn('xvfb-run', ['-a', 'npm', 'start'], { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const portFile = join(userData, 'browser-profile', 'DevToolsActivePort');
  const port = await waitFor(`the browser shell to start (output so far: ${out})`, () => (existsSync(portFile) ? readFileSync(portFile, 'utf8').split('\n')[0].trim() : null));
  await waitFor('the console to be open', () => out.includes('The console is open'));
  const browser = await chromium.connectOverCDP(`http://127.0.0.1:${port}`);
  const page = await waitFor('the app page', () => browser.contexts().flatMap((c) => c.pages()).find((p) => p.url().startsWith('https://console.invalid/')));
  await expect(page.locator('html')).toHaveAttribute('data-ready', 'true');
  return {
    child,
    output: () => out,
    exited,
    browser,
    page,
    userData,
    cleanup: async () => {
      try {
        if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      // Chromium (its own process group) may still be flushing its profile for a moment.
      for (let i = 0; i < 20; i++) {
        try {
          rmSync(tmp.dir, { recursive: true, force: true });
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    },
  };
}

/** The workspace is released (lock free, database closed): the CLI can read it. */
function cliStatus(workspace: string): { code: number | null; json: Record<string, unknown> | null } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'cli', 'mirror.cjs'), 'status', '--workspace', workspace, '--json'], { encoding: 'utf8' });
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    json = null;
  }
  return { code: r.status, json };
}

test('npm start without Electron opens the console in Chromium; the demo kit imports through the UI; closing the window releases the workspace', async () => {
  const s = await startConsole();
  try {
    const { page } = s;
    expect(s.output()).toMatch(/npm start: opening the browser shell, because (no Electron binary on this machine|forced by OKC_SHELL=browser)/);

    // The shell's surface and hardening, seen from the page.
    const probe = await page.evaluate(async () => {
      const w = globalThis as unknown as { consoleApi: { invoke: (c: string, i?: unknown) => Promise<{ ok: boolean; error?: { code: string }; value?: { host: string; nativePicker: boolean } }> } };
      const keys = Object.keys(w.consoleApi).sort();
      const undeclared = await w.consoleApi.invoke('shell.exec', {});
      const info = await w.consoleApi.invoke('app.info', {});
      // A frame the page makes itself is not the app's main frame: the binding refuses it.
      const frame = document.createElement('iframe');
      frame.srcdoc = '<p>x</p>';
      document.body.appendChild(frame);
      await new Promise((r) => frame.addEventListener('load', r, { once: true }));
      const inner = frame.contentWindow as unknown as { __consoleInvoke?: (c: string, i: unknown) => Promise<{ ok: boolean; error?: { code: string } }> };
      const fromFrame = inner.__consoleInvoke ? await inner.__consoleInvoke('app.info', {}) : { ok: false, error: { code: 'NO_BINDING' } };
      frame.remove();
      let network = 'reached';
      try {
        await fetch('https://example.com/');
      } catch {
        network = 'blocked';
      }
      const csp = (await fetch('/index.html')).headers.get('content-security-policy');
      const geo = (await navigator.permissions.query({ name: 'geolocation' })).state;
      const popup = window.open('https://example.com/', '_blank');
      return { keys, undeclared, info, fromFrame, network, csp, geo, popupOpened: popup !== null && !popup.closed, secure: window.isSecureContext };
    });
    expect(probe.keys).toEqual(['invoke', 'subscribe']);
    expect(probe.undeclared).toMatchObject({ ok: false, error: { code: 'ERR_IPC_INPUT' } });
    expect(probe.info).toMatchObject({ ok: true, value: { host: 'browser', nativePicker: false } });
    expect(['ERR_IPC_SENDER', 'NO_BINDING']).toContain(probe.fromFrame.error?.code);
    expect(probe.network).toBe('blocked');
    expect(probe.csp).toBe("default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
    expect(probe.geo).toBe('denied');
    expect(probe.secure).toBe(true);
    // A navigation away is aborted: the app stays.
    await page.evaluate(() => void (location.href = 'https://example.com/')).catch(() => {});
    await page.waitForTimeout(500);
    expect(page.url()).toMatch(/^https:\/\/console\.invalid\//);
    await waitFor('the popup to be closed', () => s.browser.contexts().flatMap((c) => c.pages()).length === 1 || null, 10_000);

    // The demo kit, through the UI: no file picker buttons, the typed paths prefilled.
    await page.getByRole('button', { name: 'Open the demo kit' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Import' })).toBeVisible();
    await expect(page.getByRole('button', { name: /Choose (file|folder)/ })).toHaveCount(0);
    await expect(page.getByLabel('Path to a bundle file or kit folder')).toHaveValue(join(REPO_ROOT, 'resources', 'demo-kit'));
    await page.getByRole('button', { name: 'Import into staging' }).click();
    await expect(page.getByRole('region', { name: 'Import result' })).toContainText('Applied', { timeout: 60_000 });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Dashboard', exact: true }).click();
    await expect(page.getByRole('region', { name: 'Staging' })).not.toContainText('nothing applied yet');

    const shot = test.info().outputPath('browser-shell.png');
    await page.screenshot({ path: shot });
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
    const docs = join(REPO_ROOT, 'docs', 'screenshot-browser-shell.png');
    if (process.env.OKC_UPDATE_SCREENSHOT === '1' || !existsSync(docs)) {
      mkdirSync(join(REPO_ROOT, 'docs'), { recursive: true });
      copyFileSync(shot, docs);
    }

    // Closing the window closes the console: jobs cancelled, database closed, workspace released.
    await page.close();
    expect(await s.exited).toBe(0);
    expect(s.output()).toContain('Closing the console (the window was closed)');
    const st = cliStatus(join(s.userData, 'workspace'));
    expect(st.code).toBe(0);
    expect(st.json).toMatchObject({ exportId: 'exp-demo-mirror-nightly-0003', generation: 3 });
  } finally {
    await s.browser.close().catch(() => {});
    await s.cleanup();
  }
});

test('Ctrl-C closes the browser shell the same way', async () => {
  const s = await startConsole();
  try {
    // As a terminal does: SIGINT to the whole foreground group (xvfb-run itself may die of it; the shell must not).
    process.kill(-s.child.pid!, 'SIGINT');
    await waitFor('the shell to close', () => s.output().includes('Closed: Ctrl-C.'), 30_000);
    expect(s.output()).toContain('Closing the console (Ctrl-C): cancelling running jobs and closing the database');
    await s.exited;
    expect(cliStatus(join(s.userData, 'workspace')).code).toBe(0);
  } finally {
    await s.browser.close().catch(() => {});
    await s.cleanup();
  }
});
