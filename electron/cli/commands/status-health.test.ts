import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../services/engine';
import { inspectPublicKey } from '../../services/keys/index';
import { KITS, tempDir } from '../../services/testing/fixtures';
import type { CliIo } from '../command';
import { runCli } from '../mirror';

const KIT = join(KITS, 'ecdsa-p256');
const PUB = join(KITS, 'ecdsa-p256.trusted.pub');

let tmp: { dir: string; cleanup: () => void };
let e: Engine;
beforeEach(() => {
  tmp = tempDir('okc-status-health-');
  e = createEngine(join(tmp.dir, 'ws'), { create: true });
});
afterEach(() => {
  e.close();
  tmp.cleanup();
});

async function importKit(): Promise<void> {
  const pem = readFileSync(PUB, 'utf8');
  const tenant = (JSON.parse(readFileSync(join(KIT, 'offline-manifest.json'), 'utf8')) as { tenant: string }).tenant;
  e.keys.add({ pem, tenant, confirmFingerprint: inspectPublicKey(pem).fingerprint, reason: 'CHG-1 trust the fixture key' });
  const r = await e.importBundles([KIT]);
  expect(r.ok, r.message).toBe(true);
}

async function status(args: string[]): Promise<string> {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (d) => (out += d));
  const io: CliIo = { stdout, stderr: new PassThrough(), stdin: new PassThrough(), env: {}, cwd: process.cwd(), signal: new AbortController().signal };
  const code = await runCli(['status', '--workspace', e.dir, ...args], io);
  expect(code).toBe(0);
  return out;
}

async function cliStatusJson(): Promise<Record<string, unknown>> {
  return JSON.parse(await status(['--json'])) as Record<string, unknown>;
}

describe('mirror status: health', () => {
  it.skipIf(!existsSync(KIT))('mirror status --json shows the same health figures as the engine', async () => {
    await importKit();
    const engineView = await e.health();
    e.close();
    const json = await cliStatusJson();
    const h = json.health as typeof engineView;
    expect(h.overall).toBe(engineView.overall);
    expect(h.chain.points).toEqual(engineView.chain.points);
    expect(h.storage.usedBytes).toBe(engineView.storage.usedBytes);
    expect(h.keys).toEqual(engineView.keys);
    expect(h.freshness.newest).toEqual(engineView.freshness.newest);
    expect(h.lastImport.summary).toBe(engineView.lastImport.summary);
  });

  it.skipIf(!existsSync(KIT))('the text form lists each health item with its verdict and the chain', async () => {
    await importKit();
    e.close();
    const out = await status([]);
    expect(out).toMatch(/^health: FAIL$/m);
    expect(out).toMatch(/^ {2}freshness {2}FAIL .*h old, beyond the 48 h budget/m);
    expect(out).toMatch(/^ {2}chain {6}ok .*full 1 → current 3/m);
    expect(out).toContain('1:F 2:d 3:d*');
    expect(out).toMatch(/^ {2}keys {7}ok /m);
    expect(out).toMatch(/^ {2}checklist {2}WARN .*not been started today/m);
  });
});
