import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../services/testing/fixtures';
import { openWorkspace } from '../../services/workspace/index';
import type { CliIo } from '../command';
import { runCli } from '../mirror';

let dir: string;
let cleanup: () => void;
let ws: string;
beforeEach(() => {
  ({ dir, cleanup } = tempDir('okc-set-'));
  ws = join(dir, 'ws');
  openWorkspace(ws, { create: true });
});
afterEach(() => cleanup());

async function cli(args: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const io: CliIo = { stdout, stderr, stdin: new PassThrough(), env: {}, cwd: dir, signal: new AbortController().signal };
  const code = await runCli(args, io);
  return { code, out, err };
}

const manifest = () => JSON.parse(readFileSync(join(ws, 'workspace.json'), 'utf8')) as { settings: Record<string, unknown> & { retention: { keepDeltas: number }; capacity: { warnBytes: number } } };

describe('mirror settings', () => {
  it('lists, gets and sets settings: validated, audited with a reason, plain errors naming the setting and its range', async () => {
    const list = JSON.parse((await cli(['settings', 'list', '--workspace', ws, '--json'])).out).settings as { key: string; allowed: string }[];
    expect(list.map((s) => s.key)).toEqual(expect.arrayContaining(['operator', 'keepGenerations', 'stalenessHours', 'retention.keepDeltas', 'capacity.warnBytes']));
    expect((await cli(['settings', 'get', 'retention.keepDeltas', '--workspace', ws])).out).toMatch(/retention.keepDeltas = 5/);

    const before = readFileSync(join(ws, 'workspace.json'), 'utf8');
    const noReason = await cli(['settings', 'set', 'retention.keepDeltas', '7', '--workspace', ws]);
    expect(noReason.code).toBe(4);
    expect(noReason.err).toMatch(/reason is required to change retention.keepDeltas/);
    const bad = await cli(['settings', 'set', 'keepGenerations', '0', '--reason', 'CHG-1', '--workspace', ws]);
    expect(bad.code).toBe(4);
    expect(bad.err).toMatch(/keepGenerations must be a whole number from 1 to 50; "0" is not/);
    expect(bad.err).not.toMatch(/too_small|"path"|ZodError/);
    const word = await cli(['settings', 'set', 'stalenessHours', 'lots', '--reason', 'CHG-1', '--workspace', ws]);
    expect(word.err).toMatch(/stalenessHours must be a number from/);
    const cross = await cli(['settings', 'set', 'capacity.warnBytes', '500GiB', '--reason', 'CHG-1', '--workspace', ws]);
    expect(cross.code).toBe(4);
    expect(cross.err).toMatch(/capacity.warnBytes \(500 GiB\) must be below capacity.failBytes \(400 GiB\)/);
    const unknown = await cli(['settings', 'set', 'retention.days', '3', '--reason', 'CHG-1', '--workspace', ws]);
    expect(unknown.err).toMatch(/no setting "retention.days".*retention.mirrorDays/);
    expect(readFileSync(join(ws, 'workspace.json'), 'utf8')).toBe(before); // nothing changed

    const ok = await cli(['settings', 'set', 'retention.keepDeltas', '7', '--reason', 'CHG-2 keep a week', '--operator', 'dana', '--workspace', ws]);
    expect(ok.code, ok.err).toBe(0);
    expect(manifest().settings.retention.keepDeltas).toBe(7);
    expect((await cli(['settings', 'set', 'capacity.warnBytes', '100GiB', '--reason', 'CHG-3', '--workspace', ws])).code).toBe(0);
    expect(manifest().settings.capacity.warnBytes).toBe(100 * 1024 ** 3);
    expect((await cli(['settings', 'set', 'operator', 'Dana Scully', '--reason', 'CHG-4 night shift', '--workspace', ws])).code).toBe(0);
    const audit = JSON.parse((await cli(['audit', 'list', '--workspace', ws, '--action', 'settings.changed', '--json'])).out).rows as { subject: string; actor: string; details: Record<string, unknown> }[];
    expect(audit.map((r) => r.subject).sort()).toEqual(['capacity.warnBytes', 'operator', 'retention.keepDeltas']);
    expect(audit.find((r) => r.subject === 'retention.keepDeltas')).toMatchObject({ details: { from: 5, to: 7, reason: 'CHG-2 keep a week' } });
    expect(audit.find((r) => r.subject === 'retention.keepDeltas')!.actor).toMatch(/dana/);
    expect((await cli(['audit', 'verify', '--workspace', ws])).code).toBe(0);
  });

  it('set creates a missing workspace (a limit raised before the first import); a refused value leaves none; a foreign folder is refused', async () => {
    const fresh = join(dir, 'new-ws');
    const bad = await cli(['settings', 'set', 'limits.maxMembers', '0', '--reason', 'CHG-5', '--workspace', fresh]);
    expect(bad.code).toBe(4);
    expect(existsSync(fresh)).toBe(false);
    expect((await cli(['settings', 'get', 'limits.maxMembers', '--workspace', fresh])).err).toMatch(/No workspace at/);
    const ok = await cli(['settings', 'set', 'limits.maxMembers', '2000000', '--reason', 'CHG-5 a 1.5M-file kit', '--workspace', fresh, '--json']);
    expect(ok.code, ok.err).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ ok: true, from: 1_000_000, to: 2_000_000 });
    expect(JSON.parse(readFileSync(join(fresh, 'workspace.json'), 'utf8')).settings.limits.maxMembers).toBe(2_000_000);
    const foreign = join(dir, 'photos');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'holiday.jpg'), 'x');
    const refused = await cli(['settings', 'set', 'limits.maxMembers', '2000000', '--reason', 'CHG-6', '--workspace', foreign]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/exists and is not a workspace .* refusing to create a workspace there/);
    expect(existsSync(join(foreign, 'workspace.json'))).toBe(false);
  });
});
