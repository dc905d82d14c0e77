import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, KITS } from '../electron/services/testing/fixtures';
import { expect, test } from './fixtures';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
const NAV = ['Dashboard', 'Import', 'Library', 'Staging', 'Restore', 'Checklists', 'Audit', 'Keys', 'Settings', 'Help'];

test('the shell renders every navigation entry and each page', async ({ console: c }) => {
  await c.open();
  const nav = c.page.getByRole('navigation', { name: 'Main' });
  for (const label of NAV) await expect(nav.getByRole('button', { name: label, exact: true })).toBeVisible();
  await expect(nav.getByRole('button')).toHaveCount(NAV.length);
  for (const label of NAV) {
    await nav.getByRole('button', { name: label, exact: true }).click();
    await expect(c.page.getByRole('heading', { level: 1, name: label })).toBeVisible();
    await expect(nav.getByRole('button', { name: label, exact: true })).toHaveAttribute('aria-current', 'page');
  }
  await nav.getByRole('button', { name: 'Dashboard', exact: true }).click();
  await expect(c.page.getByText('Export Center', { exact: true })).toBeVisible();
  const shot = test.info().outputPath('shell.png');
  await c.page.screenshot({ path: shot, fullPage: true });
  expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
});

test('app.info round trip: the dashboard shows version, workspace path, Node and Chromium versions', async ({ console: c, browser }) => {
  await c.open();
  const card = c.page.getByRole('region', { name: 'Console' });
  await expect(card).toContainText(pkg.version);
  await expect(card).toContainText(c.workspaceDir);
  await expect(card).toContainText(process.versions.node);
  await expect(card).toContainText(browser.version());
  expect(c.bridge.calls.some((x) => x.channel === 'app.info' && x.ok)).toBe(true);
  // The workspace really exists on disk.
  expect(existsSync(join(c.workspaceDir, 'workspace.json'))).toBe(true);
});

test('settings are saved through the real handler into workspace.json; invalid input shows the error code', async ({ console: c }) => {
  await c.open();
  await c.page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Settings' }).click();
  await c.page.getByLabel('Operator name recorded in the audit log').fill('Dana Ops');
  await c.page.getByLabel('Generations kept for rollback (besides the current one)').fill('4');
  // Without a reason the change is refused and nothing is written.
  await c.page.getByRole('button', { name: 'Save settings' }).click();
  await expect(c.page.getByRole('alert', { name: 'Settings not saved' })).toContainText('reason');
  expect((JSON.parse(readFileSync(join(c.workspaceDir, 'workspace.json'), 'utf8')) as { settings: { keepGenerations: number } }).settings.keepGenerations).not.toBe(4);
  await c.page.getByLabel('Reason for the change (recorded in the audit log)').fill('CHG-9 longer rollback window');
  await c.page.getByRole('button', { name: 'Save settings' }).click();
  await expect(c.page.getByRole('status').filter({ hasText: 'Settings saved.' })).toBeVisible();
  const onDisk = JSON.parse(readFileSync(join(c.workspaceDir, 'workspace.json'), 'utf8')) as { settings: { operator: string; keepGenerations: number } };
  expect(onDisk.settings.operator).toBe('Dana Ops');
  expect(onDisk.settings.keepGenerations).toBe(4);

  await c.page.getByLabel('Generations kept for rollback (besides the current one)').fill('0');
  await c.page.getByRole('button', { name: 'Save settings' }).click();
  const err = c.page.getByRole('alert', { name: 'Settings not saved' });
  await expect(err).toContainText('ERR_IPC_INPUT');
  await expect(err).toContainText('keepGenerations');
  const after = JSON.parse(readFileSync(join(c.workspaceDir, 'workspace.json'), 'utf8')) as { settings: { keepGenerations: number } };
  expect(after.settings.keepGenerations).toBe(4);
});

test('a pasted public key shows its algorithm and fingerprint before it can be trusted', async ({ console: c }) => {
  await c.open();
  await c.page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Keys' }).click();
  const pem = readFileSync(join(KITS, 'ecdsa-p256.trusted.pub'), 'utf8');
  await c.page.getByLabel('PEM public key').fill(pem);
  await c.page.getByRole('button', { name: 'Check key' }).click();
  const add = c.page.getByRole('region', { name: 'Add a key' });
  await expect(add).toContainText('ecdsa-p256');
  const fp = await add.locator('code.fp').first().textContent();
  expect(fp).toMatch(/^sha256:[0-9a-f]{64}$/);
  // A different fingerprint keeps the Trust button disabled.
  await c.page.getByLabel('Fingerprint from the change record').fill('sha256:' + '0'.repeat(64));
  await c.page.getByLabel('Tenant').fill('acme');
  await c.page.getByLabel('Reason / change record').fill('CHG-1001 initial key');
  await expect(add).toContainText('The fingerprints differ');
  await expect(c.page.getByRole('button', { name: 'Trust this key' })).toBeDisabled();
  await c.page.getByLabel('Fingerprint from the change record').fill(fp!);
  await expect(c.page.getByRole('button', { name: 'Trust this key' })).toBeEnabled();

  // Not a key: ERR_KEY_INVALID in plain words.
  await c.page.getByLabel('PEM public key').fill('hello');
  await c.page.getByRole('button', { name: 'Check key' }).click();
  await expect(c.page.getByRole('alert', { name: 'Not a usable key' })).toContainText('ERR_KEY_INVALID');
});

test('Help shows the operator guide offline and every error code with its cause and action', async ({ console: c }) => {
  await c.open();
  await c.page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Help', exact: true }).click();
  const topic = c.page.getByRole('region', { name: 'Help topic' });
  await expect(topic).toContainText('out of band');
  await c.page.getByRole('tab', { name: 'A restore' }).click();
  await expect(topic).toContainText('mirror rollback --workspace');
  await c.page.getByRole('tab', { name: /Error codes/ }).click();
  await expect(topic).toContainText('ERR_FINGERPRINT_MISMATCH');
  await expect(topic).toContainText('Do not pin it.');
});
