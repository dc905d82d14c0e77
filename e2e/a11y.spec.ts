/**
 * Accessibility and the shell: axe-core on every page in the light and the dark
 * theme (0 serious, 0 critical findings), dark-theme screenshots under
 * test-results/screenshots/, the skip link, focus on the page heading after
 * navigation and after a dialog, the window title per page, keyboard shortcuts,
 * and the theme switch kept across a reload.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { REPO_ROOT } from '../electron/services/testing/fixtures';
import { expect, test } from './fixtures';

const SHOTS = join(REPO_ROOT, 'test-results', 'screenshots');
const navButtons = (page: Page) => page.getByRole('navigation', { name: 'Main' }).getByRole('button');

async function importDemoKit(page: Page) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Import', exact: true }).click();
  await page.getByLabel('Path to a bundle file or kit folder').fill(join(REPO_ROOT, 'resources', 'demo-kit'));
  await page.getByLabel(/Trusted public key files/).fill(join(REPO_ROOT, 'resources', 'demo-kit.pub'));
  await page.getByRole('button', { name: 'Import into staging' }).click();
  await expect(page.getByRole('region', { name: 'Import result' })).toContainText('Applied');
}

async function seriousFindings(page: Page) {
  const r = await new AxeBuilder({ page }).analyze();
  return r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.length}×) ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}

for (const scheme of ['light', 'dark'] as const) {
  test(`axe: every page in the ${scheme} theme has no serious or critical finding`, async ({ console: c }) => {
    // Every page, each scanned by axe: ~40 s alone, past 90 s on a loaded 2-core machine (seen twice).
    test.slow();
    await c.page.emulateMedia({ colorScheme: scheme });
    await c.open();
    await expect(c.page.locator('html')).toHaveAttribute('data-theme', scheme);
    await importDemoKit(c.page);
    mkdirSync(SHOTS, { recursive: true });
    const labels = await navButtons(c.page).allTextContents();
    expect(labels.length).toBeGreaterThanOrEqual(9);
    const findings: Record<string, string[]> = {};
    for (const label of labels) {
      await navButtons(c.page).filter({ hasText: label }).first().click();
      await expect(c.page.getByRole('heading', { level: 1, name: label })).toBeVisible();
      await expect(c.page.getByText(/^Loading /)).toHaveCount(0);
      const found = await seriousFindings(c.page);
      if (found.length) findings[label] = found;
      if (scheme === 'dark') await c.page.screenshot({ path: join(SHOTS, `dark-${label.toLowerCase().replace(/\W+/g, '-')}.png`), fullPage: true });
    }
    // A dialog too: the keyboard shortcuts.
    await c.page.keyboard.press('?');
    await expect(c.page.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeVisible();
    const dialog = await seriousFindings(c.page);
    if (dialog.length) findings['shortcuts dialog'] = dialog;
    expect(findings).toEqual({});
    if (scheme === 'dark') expect(readFileSync(join(SHOTS, 'dark-dashboard.png')).subarray(1, 4).toString()).toBe('PNG');
  });
}

test('skip link, window title and focus on the page heading after navigation', async ({ console: c }) => {
  await c.open();
  await expect(c.page).toHaveTitle('Dashboard · Export Center Offline Console');
  await c.page.keyboard.press('Tab');
  const skip = c.page.getByRole('link', { name: 'Skip to content' });
  await expect(skip).toBeFocused();
  await c.page.keyboard.press('Enter');
  await expect(c.page.locator('#main-content')).toBeFocused();

  await navButtons(c.page).filter({ hasText: 'Keys' }).click();
  await expect(c.page).toHaveTitle('Keys · Export Center Offline Console');
  await expect(c.page.getByRole('heading', { level: 1, name: 'Keys' })).toBeFocused();
  await expect(navButtons(c.page).filter({ hasText: 'Keys' })).toHaveAttribute('aria-current', 'page');
});

test('keyboard shortcuts: "?" lists them, "g" then a letter navigates, focus returns to the heading when the dialog closes', async ({ console: c }) => {
  await c.open();
  await c.page.locator('body').press('?');
  const dialog = c.page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await expect(dialog).toContainText('g then i');
  await expect(dialog).toContainText('Go to Import');
  await c.page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await expect(c.page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeFocused();

  await c.page.keyboard.press('g');
  await c.page.keyboard.press('i');
  await expect(c.page.getByRole('heading', { level: 1, name: 'Import' })).toBeFocused();
  await expect(c.page).toHaveTitle(/^Import ·/);
  // Typing in a field is never a shortcut.
  await c.page.getByLabel('Path to a bundle file or kit folder').fill('');
  await c.page.getByLabel('Path to a bundle file or kit folder').press('g');
  await c.page.getByLabel('Path to a bundle file or kit folder').press('k');
  await expect(c.page.getByRole('heading', { level: 1, name: 'Import' })).toBeVisible();
  await expect(c.page.getByLabel('Path to a bundle file or kit folder')).toHaveValue('gk');
});

test('the theme follows the OS until the operator picks one; the choice survives a reload', async ({ console: c }) => {
  await c.page.emulateMedia({ colorScheme: 'dark' });
  await c.open();
  const html = c.page.locator('html');
  await expect(html).toHaveClass(/pf-v6-theme-dark/);
  await c.page.emulateMedia({ colorScheme: 'light' });
  await expect(html).not.toHaveClass(/pf-v6-theme-dark/);
  await c.page.getByRole('button', { name: 'Dark theme' }).click();
  await expect(html).toHaveClass(/pf-v6-theme-dark/);
  await c.page.reload();
  await expect(html).toHaveAttribute('data-ready', 'true');
  await expect(html).toHaveClass(/pf-v6-theme-dark/);
  await expect(c.page.getByRole('button', { name: 'Dark theme' })).toHaveAttribute('aria-pressed', 'true');
  await c.page.getByRole('button', { name: 'Follow the system theme' }).click();
  await expect(html).not.toHaveClass(/pf-v6-theme-dark/);
});
