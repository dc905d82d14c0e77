import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KITS, REPO_ROOT } from '../electron/services/testing/fixtures';
import { expect, test } from './fixtures';

const KIT = join(KITS, 'ecdsa-p256');
const KEY = join(KITS, 'ecdsa-p256.trusted.pub');
const nav = (c: { page: import('@playwright/test').Page }, name: string) => c.page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name, exact: true }).click();

test('importing the ecdsa-p256 fixture kit with its trusted key shows the verdict and the staging generation; rollback from the Staging page', async ({ console: c }) => {
  await c.open();
  await nav(c, 'Import');
  // The "Choose folder…" button goes through dialog.openPath (the test stands in for the native picker).
  c.nextPickedPath.value = KIT;
  await c.page.getByRole('button', { name: 'Choose folder…' }).click();
  await expect(c.page.getByLabel('Path to a bundle file or kit folder')).toHaveValue(KIT);
  await c.page.getByLabel(/Trusted public key files/).fill(KEY);
  await c.page.getByRole('button', { name: 'Import into staging' }).click();

  const result = c.page.getByRole('region', { name: 'Import result' });
  await expect(result).toBeVisible();
  await expect(result).toContainText('Applied');
  await expect(result.getByRole('list', { name: 'Bundles' }).getByRole('listitem')).toHaveCount(4); // full, 2 deltas, Trivy DB, one collapsible section each
  // Applied bundles start collapsed: a section opens on demand.
  const first = result.getByRole('listitem').first();
  await first.getByRole('button').first().click();
  await expect(first).toContainText('generation 1');
  const staging = c.page.getByRole('region', { name: 'Staging after import' });
  await expect(staging.locator('dd').nth(1)).toHaveText('3');

  // Progress and completion reached the page as events, pushed like the main process does.
  const progress = c.bridge.events.filter((e) => e.topic === 'job.progress');
  expect(progress.length).toBeGreaterThan(0);
  expect(c.bridge.events.some((e) => e.topic === 'job.done' && (e.payload as { state: string }).state === 'succeeded')).toBe(true);

  // Staging page: generation 3 is current, 2 is kept for rollback.
  await nav(c, 'Staging');
  const gens = c.page.getByRole('region', { name: 'Generations' });
  await expect(gens.getByRole('row', { name: /current/ })).toContainText('3');
  await gens.getByRole('button', { name: 'Roll back to 2' }).click();
  // One dialog, a typed reason (one generation back: no typed confirmation word).
  const dialog = c.page.getByRole('dialog', { name: 'Roll back to generation 2' });
  await expect(dialog.getByRole('button', { name: 'Roll back to 2' })).toBeDisabled();
  await dialog.getByLabel(/Reason/).fill('CHG-77 bad delta 3');
  await dialog.getByRole('button', { name: 'Roll back to 2' }).click();
  await expect(gens.getByRole('status')).toContainText('Rolled back: generation 2');
  await expect(dialog).toHaveCount(0);
  await expect(c.page.getByRole('heading', { level: 1, name: 'Staging' })).toBeFocused();
  await expect(gens.getByRole('row', { name: /current/ })).toContainText('2');
  await expect(c.page.getByRole('region', { name: 'Current generation' }).locator('dd').nth(1)).toHaveText('2');

  // Library and audit follow (data.changed invalidated their queries).
  await nav(c, 'Library');
  await expect(c.page.getByRole('table')).toContainText('mirror-delta');
  await nav(c, 'Audit');
  await expect(c.page.getByRole('table')).toContainText('mirror.delta.applied');
  await expect(c.page.getByRole('table')).toContainText('mirror.rollback');
  const audit = await c.bridge.handlers.table['audit.list']({ limit: 50, action: 'mirror.rollback' });
  expect(JSON.stringify(audit.rows[0])).toContain('CHG-77 bad delta 3');
  await c.page.getByRole('button', { name: 'Verify chain' }).click();
  await expect(c.page.getByLabel('Chain verification result')).toContainText(/intact/i);
});

test('a refused bundle shows the error code and the action to take', async ({ console: c }) => {
  const bad = join(KITS, 'bad');
  await c.open();
  await nav(c, 'Import');
  await c.page.getByLabel('Path to a bundle file or kit folder').fill(join(bad, 'wrong-key/mirror/mirror-20251029-full.tar.zst'));
  await c.page.getByLabel(/Trusted public key files/).fill(join(bad, 'trust.pub'));
  await c.page.getByRole('button', { name: 'Verify', exact: true }).click();
  const verdict = c.page.getByRole('region', { name: 'Verdict' });
  await expect(verdict).toContainText('Refused');
  await expect(verdict).toContainText('ERR_VERIFY_SIGNATURE');
  await expect(verdict.locator('.okc-error-action')).toContainText('Do not import.');
  // Cause from the runbook, and a link to the procedure (7.3: signing outage).
  await expect(verdict).toContainText('not signed by a key trusted for this tenant');
  await verdict.getByRole('button', { name: 'Open procedure 7.3' }).click();
  await expect(c.page.getByRole('heading', { level: 1, name: 'Checklists' })).toBeFocused();
  await nav(c, 'Import');

  // An unsafe archive is refused on import too, and staging stays empty.
  await c.page.getByLabel('Path to a bundle file or kit folder').fill(join(bad, 'traversal/mirror/mirror-20251029-full.tar.zst'));
  await c.page.getByRole('button', { name: 'Import into staging' }).click();
  const result = c.page.getByRole('region', { name: 'Import result' });
  await expect(result).toContainText('ERR_BUNDLE_UNSAFE_ENTRY');
  await expect(result).toContainText('Quarantine the media');
  await nav(c, 'Staging');
  await expect(c.page.getByRole('region', { name: 'Current generation' })).toContainText('nothing applied yet');
});

test('first start offers the demo kit; opening and importing it fills the dashboard', async ({ console: c }) => {
  await c.open();
  await c.page.getByRole('button', { name: 'Open the demo kit' }).click();
  await expect(c.page.getByRole('heading', { level: 1, name: 'Import' })).toBeVisible();
  await expect(c.page.getByLabel('Path to a bundle file or kit folder')).toHaveValue(join(REPO_ROOT, 'resources', 'demo-kit'));
  await expect(c.page.getByLabel(/Trusted public key files/)).toHaveValue(join(REPO_ROOT, 'resources', 'demo-kit.pub'));
  await c.page.getByRole('button', { name: 'Import into staging' }).click();
  await expect(c.page.getByRole('region', { name: 'Import result' })).toContainText('Applied');

  await nav(c, 'Dashboard');
  await expect(c.page.getByRole('button', { name: 'Open the demo kit' })).toHaveCount(0);
  const staging = c.page.getByRole('region', { name: 'Staging' });
  await expect(staging).toContainText('Generation');
  await expect(staging).not.toContainText('nothing applied yet');
  const shot = test.info().outputPath('dashboard.png');
  await c.page.screenshot({ path: shot });
  expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
});

test('a dry run shows the plan and changes nothing', async ({ console: c }) => {
  await c.open();
  await nav(c, 'Import');
  await c.page.getByLabel('Path to a bundle file or kit folder').fill(KIT);
  await c.page.getByLabel(/Trusted public key files/).fill(KEY);
  await c.page.getByText('Import options').click();
  await c.page.getByLabel(/Dry run/).check();
  await c.page.getByRole('button', { name: 'Import into staging' }).click();
  const result = c.page.getByRole('region', { name: 'Import result' });
  await expect(result).toContainText('Plan');
  await expect(result).toContainText('planned');
  await nav(c, 'Staging');
  await expect(c.page.getByRole('region', { name: 'Current generation' })).toContainText('nothing applied yet');
});
