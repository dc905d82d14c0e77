import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KITS, REPO_ROOT } from '../electron/services/testing/fixtures';
import { expect, test } from './fixtures';

const nav = (c: { page: import('@playwright/test').Page }, name: string) => c.page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name, exact: true }).click();

test('the daily checklist runs step by step: a manual confirmation with a note, then an automated check, both audited', async ({ console: c }) => {
  await c.open();
  // The dashboard summarises the daily checklist.
  await expect(c.page.getByRole('region', { name: 'Daily checklist' })).toContainText('Not run yet.');
  await nav(c, 'Checklists');
  const procedures = c.page.getByRole('region', { name: 'Procedures' });
  const daily = procedures.getByRole('row').filter({ hasText: '4.1' });
  await daily.getByRole('button', { name: /^Start/ }).click();

  const run = c.page.getByRole('region', { name: /^Run / });
  await expect(run).toContainText('not started');
  const steps = run.getByRole('listitem');
  await steps.first().getByRole('textbox').fill('Dashboard reviewed, no alerts');
  await steps.first().getByRole('button', { name: 'Confirm step' }).click();
  await expect(steps.first()).toContainText('confirmed');
  await expect(steps.first()).toContainText('Dashboard reviewed, no alerts');

  // The next step is automated: it runs a real check and shows its evidence.
  await steps.nth(1).getByRole('button', { name: 'Run check' }).click();
  await expect(steps.nth(1)).toContainText('Evidence:');
  await expect(steps.nth(1)).not.toContainText('pending');

  await nav(c, 'Audit');
  await c.page.getByLabel('Action filter').fill('checklist.step.completed');
  await expect(c.page.getByRole('table').getByRole('row')).toHaveCount(1 + 2);

  await nav(c, 'Dashboard');
  const dailySteps = (JSON.parse(readFileSync(join(REPO_ROOT, 'resources', 'runbooks', '4.1-daily.json'), 'utf8')) as { steps: unknown[] }).steps.length;
  await expect(c.page.getByRole('region', { name: 'Daily checklist' })).toContainText(`2 of ${dailySteps} steps done`);
});

test('a key is trusted only with the confirmed fingerprint, then listed and revoked with a reason', async ({ console: c }) => {
  await c.open();
  await nav(c, 'Keys');
  const pem = readFileSync(join(KITS, 'ecdsa-p256.trusted.pub'), 'utf8');
  await c.page.getByLabel('PEM public key').fill(pem);
  await c.page.getByRole('button', { name: 'Check key' }).click();
  const add = c.page.getByRole('region', { name: 'Add a key' });
  const fp = (await add.locator('code.fp').first().textContent())!;
  await c.page.getByLabel('Fingerprint from the change record').fill(fp);
  await c.page.getByLabel('Tenant').fill('acme');
  await c.page.getByLabel('Reason / change record').fill('CHG-2041 pin export key');
  await c.page.getByRole('button', { name: 'Trust this key' }).click();
  await expect(add.getByRole('status')).toContainText(`Trusted ${fp} for tenant acme`);

  const table = c.page.getByRole('region', { name: 'Trusted keys' }).getByRole('table');
  const row = table.getByRole('row').filter({ hasText: fp });
  await expect(row).toContainText('active');
  // Rotation: a new key for the same tenant, confirmed by its fingerprint, with a reason; the old one stays active.
  await row.getByRole('button', { name: /^Rotate/ }).click();
  const rotate = c.page.getByRole('region', { name: 'Rotate a key' });
  const newPem = readFileSync(join(KITS, 'ed25519.trusted.pub'), 'utf8');
  await rotate.getByLabel('New PEM public key').fill(newPem);
  await rotate.getByRole('button', { name: 'Check key' }).click();
  const newFp = (await rotate.locator('code.fp').nth(1).textContent())!;
  await expect(rotate.getByLabel('Tenant')).toHaveValue('acme');
  await rotate.getByLabel('Fingerprint from the change record').fill(newFp);
  await rotate.getByLabel('Reason / change record').fill('CHG-2043 rotate export key');
  await rotate.getByRole('button', { name: 'Rotate to this key' }).click();
  await expect(rotate.getByRole('status')).toContainText(`now trusting ${newFp}`);
  await expect(table.getByRole('row').filter({ hasText: newFp })).toContainText('active');

  // Revoking asks once: a reason, and the tenant typed (high risk).
  await row.getByRole('button', { name: /^Revoke/ }).click();
  const dialog = c.page.getByRole('dialog', { name: 'Revoke a trusted key' });
  await dialog.getByLabel(/Reason/).fill('CHG-2042 key retired');
  await expect(dialog.getByRole('button', { name: 'Revoke key' })).toBeDisabled();
  await dialog.getByLabel('Type acme to confirm').fill('acme');
  await dialog.getByRole('button', { name: 'Revoke key' }).click();
  await expect(row).toContainText('revoked');
  await expect(c.page.getByRole('heading', { level: 1, name: 'Keys' })).toBeFocused();

  await nav(c, 'Audit');
  await expect(c.page.getByRole('table')).toContainText('keys.revoked');
  await expect(c.page.getByRole('table')).toContainText('keys.added');
  await expect(c.page.getByRole('table')).toContainText('keys.rotated');
  // A time range that excludes today leaves nothing; today's range shows both rows again.
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  await c.page.getByLabel('From day (UTC)').fill(day(1));
  await expect(c.page.getByTestId('audit-total')).toHaveText('0 rows match the filters.');
  await c.page.getByLabel('From day (UTC)').fill(day(-1));
  await c.page.getByLabel('To day (UTC, inclusive)').fill(day(1));
  await expect(c.page.getByRole('table').getByRole('row')).toHaveCount(1 + 3);
});
