/**
 * The features that were CLI-only, now in the app over the real handlers: the
 * library in generation order and retention (preview, then a run with a
 * reason), the 7.3 freeze as a confirmed step with a reason (never a "check"),
 * a signed audit export and a checklist's evidence export.
 */
import { createPublicKey, verify as verifySig } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { generateSigningKey } from '../electron/services/producer/index';
import { KITS, REPO_ROOT } from '../electron/services/testing/fixtures';
import { expect, test } from './fixtures';

const nav = (page: Page, name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name, exact: true }).click();
const SHOTS = join(REPO_ROOT, 'test-results', 'screenshots');

async function importKit(page: Page) {
  await nav(page, 'Import');
  await page.getByLabel('Path to a bundle file or kit folder').fill(join(KITS, 'ecdsa-p256'));
  await page.getByLabel(/Trusted public key files/).fill(join(KITS, 'ecdsa-p256.trusted.pub'));
  await page.getByRole('button', { name: 'Import into staging' }).click();
  await expect(page.getByRole('region', { name: 'Import result' })).toContainText('Applied');
}

test('library in generation order; retention preview changes nothing, a run asks for a reason and records it', async ({ console: c }) => {
  await c.open();
  await importKit(c.page);
  await nav(c.page, 'Library');
  const table = c.page.getByRole('table', { name: 'Bundles in the library' });
  const gens = await table.getByRole('row').locator('td:first-child').allTextContents();
  expect(gens).toEqual(['1', '2', '3', '–']); // full, deltas in order, then the Trivy DB

  const retention = c.page.getByRole('region', { name: 'Retention' });
  await retention.getByRole('button', { name: 'Preview retention' }).click();
  await expect(retention.getByRole('status')).toContainText('Preview (nothing changed)');
  expect((await c.bridge.handlers.table['audit.list']({ limit: 10, action: 'retention.run' })).rows).toHaveLength(0);

  await retention.getByRole('button', { name: 'Run retention…' }).click();
  const dialog = c.page.getByRole('dialog', { name: 'Run retention' });
  await expect(dialog.getByRole('button', { name: 'Prune the library' })).toBeDisabled();
  await dialog.getByLabel(/Reason/).fill('CHG-5 nightly retention');
  await dialog.getByRole('button', { name: 'Prune the library' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(retention.getByRole('status')).toContainText('Retention ran at');
  const rows = (await c.bridge.handlers.table['audit.list']({ limit: 10, action: 'retention.run' })).rows;
  expect(rows).toHaveLength(1);
  expect(rows[0].details).toMatchObject({ reason: 'CHG-5 nightly retention' });
  await c.page.screenshot({ path: join(SHOTS, 'library-retention.png') });
});

test('7.3: freezing imports is a confirmed action with a reason, not a "check"; staging shows the freeze', async ({ console: c }) => {
  await c.open();
  await nav(c.page, 'Checklists');
  const row = c.page.getByRole('region', { name: 'Procedures' }).getByRole('row').filter({ hasText: '7.3' });
  await row.getByRole('button', { name: /^Start/ }).click();
  await row.getByLabel(/reason: incident id/).fill('INC-88 KMS down');
  await row.getByRole('button', { name: 'Start run' }).click();
  const run = c.page.getByRole('region', { name: /^Run / });
  const first = run.getByRole('listitem').first();
  await expect(first).toContainText('changes the workspace');
  await expect(first.getByRole('button', { name: 'Run check' })).toHaveCount(0);
  await first.getByRole('button', { name: /^Freeze imports/ }).click();
  const dialog = c.page.getByRole('dialog', { name: /^Freeze imports/ });
  await dialog.getByLabel(/Reason/).fill('INC-88 signing suspect, freeze');
  await dialog.getByRole('button', { name: /^Freeze imports/ }).click();
  await expect(dialog).toHaveCount(0);
  await expect(first).toContainText('passed');
  await expect(first).toContainText('INC-88 signing suspect, freeze');
  await nav(c.page, 'Staging');
  await expect(c.page.getByRole('region', { name: 'Current generation' })).toContainText('Imports are frozen');
  // The engine refuses the same kind of step without a reason (a UI cannot skip the confirmation).
  const r = await c.bridge.handlers.table['checklists.start']({ checklistId: 'kms-outage', inputs: { reason: 'INC-89' } });
  await expect(c.bridge.handlers.table['checklists.completeStep']({ runId: r.runId, stepId: 'freeze' })).rejects.toMatchObject({ code: 'ERR_CHECKLIST_STATE' });
});

test('signed audit export from the Audit page and evidence export of a checklist run', async ({ console: c }) => {
  const key = generateSigningKey('ed25519');
  const keyFile = join(c.workspaceDir, '..', 'audit-signing.pem');
  await c.open();
  writeFileSync(keyFile, key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  await nav(c.page, 'Audit');
  const card = c.page.getByRole('region', { name: 'Audit export' });
  await card.getByLabel(/Signing key file/).fill(join(c.workspaceDir, '..', 'missing.pem'));
  await card.getByRole('button', { name: 'Export and sign' }).click();
  await expect(card.getByRole('alert', { name: 'Audit log not exported' })).toContainText('ERR_INPUT_NOT_FOUND');
  await expect(card.getByRole('alert', { name: 'Audit log not exported' })).toContainText('removable media is mounted');
  await card.getByLabel(/Signing key file/).fill(keyFile);
  await card.getByRole('button', { name: 'Export and sign' }).click();
  const status = card.getByRole('status');
  await expect(status).toContainText('signed');
  const files = await status.locator('code').allTextContents();
  const jsonl = files.find((f) => f.endsWith('.jsonl'))!;
  const sig = files.find((f) => f === `${jsonl}.sig`)!;
  expect(verifySig(null, readFileSync(jsonl), createPublicKey(key.publicPem), Buffer.from(readFileSync(sig, 'utf8').trim(), 'base64'))).toBe(true);

  await nav(c.page, 'Checklists');
  await c.page.getByRole('region', { name: 'Procedures' }).getByRole('row').filter({ hasText: '4.1' }).getByRole('button', { name: /^Start/ }).click();
  const evidence = c.page.getByRole('region', { name: 'Evidence' });
  await evidence.getByRole('button', { name: 'Export evidence' }).click();
  const written = await evidence.getByRole('status').locator('code').allTextContents();
  expect(written.map((f) => f.split('.').pop())).toEqual(['json', 'html']);
  for (const f of written) expect(existsSync(f)).toBe(true);
});
