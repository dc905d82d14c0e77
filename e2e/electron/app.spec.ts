import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { _electron as electron, expect, test, type ElectronApplication, type Page } from '@playwright/test';
import { REPO_ROOT, tempDir } from '../../electron/services/testing/fixtures';
import { findElectronBinary } from './electron-binary';

const binary = findElectronBinary();
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

test.describe('the desktop app (Electron)', () => {
  test.skip(!binary, 'no Electron binary on this machine (see the message above)');

  let app: ElectronApplication;
  let page: Page;
  let tmp: { dir: string; cleanup: () => void };

  test.beforeAll(async () => {
    tmp = tempDir('okc-electron-');
    app = await electron.launch({
      executablePath: binary!,
      // Chromium refuses to start as root (CI) without --no-sandbox; the renderer's own sandbox (sandbox: true) stays on.
      args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), REPO_ROOT],
      cwd: REPO_ROOT,
      env: { ...process.env, OKC_WORKSPACE: join(tmp.dir, 'workspace'), ELECTRON_DISABLE_SECURITY_WARNINGS: 'false' } as Record<string, string>,
    });
    page = await app.firstWindow();
    await expect(page.locator('html')).toHaveAttribute('data-ready', 'true');
  });

  test.afterAll(async () => {
    await app?.close();
    tmp?.cleanup();
  });

  test('loads from app://console/ and renders the shell with the real engine', async () => {
    expect(page.url()).toMatch(/^app:\/\/console\//);
    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const label of ['Dashboard', 'Import', 'Library', 'Staging', 'Checklists', 'Audit', 'Keys', 'Settings']) {
      await expect(nav.getByRole('button', { name: label, exact: true })).toBeVisible();
    }
    const card = page.getByRole('region', { name: 'Console' });
    await expect(card).toContainText(pkg.version);
    await expect(card).toContainText(join(tmp.dir, 'workspace'));
    const electronVersion = await app.evaluate(() => process.versions.electron ?? '');
    expect(electronVersion).toMatch(/^\d+\.\d+\.\d+/);
    await expect(card).toContainText(electronVersion);
    await page.screenshot({ path: test.info().outputPath('electron-shell.png') });
  });

  test('the renderer is sandboxed: no Node, no navigation away, no new windows', async () => {
    const globals = await page.evaluate(() => ({
      process: typeof (globalThis as { process?: unknown }).process,
      require: typeof (globalThis as { require?: unknown }).require,
      api: Object.keys((globalThis as { consoleApi?: object }).consoleApi ?? {}).sort(),
    }));
    expect(globals).toEqual({ process: 'undefined', require: 'undefined', api: ['invoke', 'subscribe'] });
    type Win = { location: { href: string }; open(url: string): unknown; okcMarker?: number };
    const before = page.url();
    await page.evaluate(() => {
      const w = globalThis as unknown as Win;
      w.okcMarker = 42;
      w.location.href = 'https://example.com/';
    });
    // will-navigate is prevented: no navigation event comes, and the document (with its marker) stays.
    const navigated = await page.waitForEvent('framenavigated', { timeout: 3000 }).then(() => true, () => false);
    expect(navigated).toBe(false);
    expect(page.url()).toBe(before);
    expect(await page.evaluate(() => (globalThis as unknown as Win).okcMarker)).toBe(42);
    const opened = await page.evaluate(() => (globalThis as unknown as Win).open('https://example.com/') === null);
    expect(opened).toBe(true);
    expect(app.windows()).toHaveLength(1);
    const unknown = await page.evaluate(() => (globalThis as unknown as { consoleApi: { invoke(c: string): Promise<{ ok: boolean; error?: { code: string } }> } }).consoleApi.invoke('fs.readFile'));
    expect(unknown).toMatchObject({ ok: false, error: { code: 'ERR_IPC_INPUT' } });
  });
});
