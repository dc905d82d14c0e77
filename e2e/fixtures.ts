/** Playwright fixtures: a real temp workspace, the bridge installed, the built renderer served. */
import { test as base, expect, type Page } from '@playwright/test';
import { tempDir } from '../electron/services/testing/fixtures';
import { APP_URL, installBridge, serveRenderer, type Bridge } from './bridge';
import { join } from 'node:path';

export interface ConsoleFixture {
  page: Page;
  bridge: Bridge;
  workspaceDir: string;
  /** Paths the "Choose file…/folder…" buttons answer with (a stand-in for the native picker). */
  nextPickedPath: { value: string | null };
  open(): Promise<void>;
}

export const test = base.extend<{ console: ConsoleFixture }>({
  console: async ({ page, context, browser }, use) => {
    const tmp = tempDir('okc-e2e-');
    const workspaceDir = join(tmp.dir, 'workspace');
    const nextPickedPath = { value: null as string | null };
    await serveRenderer(context);
    const bridge = await installBridge(page, {
      workspaceDir,
      host: 'bridge',
      versions: { chromium: browser.version(), electron: null },
      openPath: async () => nextPickedPath.value,
    });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await use({
      page,
      bridge,
      workspaceDir,
      nextPickedPath,
      async open() {
        await page.goto(APP_URL);
        await expect(page.locator('html')).toHaveAttribute('data-ready', 'true');
      },
    });
    await bridge.dispose();
    tmp.cleanup();
    expect(pageErrors, 'uncaught errors in the page').toEqual([]);
  },
});

export { expect };
