import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KITS, tempDir } from '../../services/testing/fixtures';
import { openWorkspace } from '../../services/workspace/index';
import type { CliIo } from '../command';
import { runCli } from '../mirror';

let dir: string;
let cleanup: () => void;
let ws: string;
beforeEach(() => {
  ({ dir, cleanup } = tempDir('okc-cl-'));
  ws = join(dir, 'ws');
  openWorkspace(ws, { create: true });
});
afterEach(() => cleanup());

async function cli(args: string[], stdin?: string, tty = false) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const input = new PassThrough() as PassThrough & { isTTY?: boolean };
  if (tty) input.isTTY = true;
  if (stdin !== undefined) input.end(stdin);
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const io: CliIo = { stdout, stderr, stdin: input, env: {}, cwd: dir, signal: new AbortController().signal };
  const code = await runCli(args, io);
  return { code, out, err };
}

describe('mirror checklist', () => {
  it('list shows every procedure with its section', async () => {
    const r = await cli(['checklist', 'list', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).procedures.map((p: { section: string }) => p.section)).toEqual(['4.1', '4.2', '4.3', '5.2', '7.1', '7.2', '7.3', '8.1', '8.2', '9']);
  });

  it('without a terminal and without answers, the run stays in progress at the manual step (exit 1), then resumes with --answers', async () => {
    const first = await cli(['checklist', 'run', 'daily', '--workspace', ws, '--operator', 'carol']);
    expect(first.code).toBe(1);
    expect(first.out).toMatch(/WAITING: Waiting for the operator at step 1/);
    expect(first.out).toMatch(/--answers/);
    const status = JSON.parse((await cli(['checklist', 'status', '--workspace', ws, '--json'])).out);
    expect(status.runs).toHaveLength(1);
    expect(status.runs[0]).toMatchObject({ checklistId: 'daily', state: 'in_progress' });
    const runId = status.runs[0].id;
    const answers = join(dir, 'answers.yaml');
    writeFileSync(answers, 'review-dashboard: "reviewed at 08:00, all green"\n');
    const second = await cli(['checklist', 'run', 'daily', '--workspace', ws, '--answers', answers, '--json']);
    const res = JSON.parse(second.out);
    expect(res.run.id).toBe(runId); // resumed, not a new run
    expect(res.run.state).toBe('done');
    // A fresh workspace has no retention run: the daily checklist reports a failure (exit 1 for cron).
    expect(res.outcome).toBe('fail');
    expect(second.code).toBe(1);
    expect(res.run.steps[0]).toMatchObject({ status: 'confirmed', note: 'reviewed at 08:00, all green' });
    expect(res.run.steps[0].actor).toMatch(/operator: carol/);

    const ex = await cli(['checklist', 'export', runId, '--workspace', ws, '--out', join(dir, 'evidence'), '--json']);
    expect(ex.code).toBe(0);
    const paths = JSON.parse(ex.out);
    expect(existsSync(paths.json) && existsSync(paths.html)).toBe(true);
    expect(readFileSync(paths.html, 'utf8')).toContain('Daily checklist');
  });

  it('inputs given to a run id go to that run through the engine (an unknown input is a usage error, exit 4)', async () => {
    await cli(['checklist', 'run', 'daily', '--workspace', ws, '--operator', 'carol']);
    const runId = JSON.parse((await cli(['checklist', 'status', '--workspace', ws, '--json'])).out).runs[0].id;
    const r = await cli(['checklist', 'run', runId, '--workspace', ws, '--input', 'bogus=1', '--json']);
    expect(r.code).toBe(4);
    expect(JSON.parse(r.out)).toMatchObject({ ok: false, code: 'ERR_USAGE', message: expect.stringMatching(/has no input "bogus"/) });
    const runs = JSON.parse((await cli(['checklist', 'status', '--workspace', ws, '--json'])).out).runs;
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ id: runId, state: 'in_progress' });
  });

  it('prompts manual steps in a terminal; --yes confirms them in scripts; --new starts over', async () => {
    const r = await cli(['checklist', 'run', '8.2', '--workspace', ws, '--input', 'path=nowhere.tar.zst'], 'y\n', true);
    // The automated verify step fails (no such file) and blocks the playbook before the manual step.
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/BLOCKED/);
    expect(r.out).toMatch(/does not exist/);
    const k = await cli(['checklist', 'run', 'change-record', '--workspace', ws, '--operator', 'dana', '--input', 'what=new tenant', '--input', 'why=contract', '--input', 'approver=J. Doe CHG-1'], 'globex, +2 GiB\nn/a: no transfer change\ny\ny\n', true);
    expect(k.code, k.out + k.err).toBe(0);
    expect(k.err).toMatch(/Tenant impact/);
    expect(k.out).toMatch(/state: done, outcome: pass/);
    expect(k.out).toMatch(/\[N\/A \]/);
    // Each step is printed once.
    expect(k.out.match(/Tenant impact and expected bundle size/g)).toHaveLength(1);
    const y = await cli(['checklist', 'run', 'weekly', '--workspace', ws, '--yes', '--new', '--json']);
    const manual = JSON.parse(y.out).run.steps.filter((s: { kind: string }) => s.kind === 'manual');
    expect(manual.length).toBeGreaterThan(0);
    expect(manual.every((s: { status: string; confirmation: string }) => s.status === 'confirmed' && s.confirmation === 'yes-flag')).toBe(true);
    const audit = JSON.parse((await cli(['audit', 'list', '--workspace', ws, '--action', 'change.recorded', '--json'])).out);
    expect(audit.rows.at(-1).details).toMatchObject({ what: 'new tenant', approver: 'J. Doe CHG-1' });
    // A misspelled step id in --answers is refused, listing the valid ones.
    const answers = join(dir, 'typo.json');
    writeFileSync(answers, JSON.stringify({ 'review-dashbord': 'yes' }));
    const typo = await cli(['checklist', 'run', 'daily', '--workspace', ws, '--answers', answers]);
    expect(typo.code).toBe(4);
    expect(typo.err).toMatch(/"review-dashbord".*review-dashboard/);
  });

  it('bad usage gets clear errors', async () => {
    expect((await cli(['checklist', 'run', 'no-such-procedure', '--workspace', ws])).code).toBe(4);
    expect((await cli(['checklist', 'run', 'kms-outage', '--workspace', ws])).err).toMatch(/needs the input "reason"/);
    expect((await cli(['checklist', 'run', 'daily', '--workspace', ws, '--answers', join(dir, 'missing.json')])).code).toBe(1);
    expect((await cli(['checklist', 'status', 'nope', '--workspace', ws])).code).toBe(1);
    // A mistyped workspace is not created silently.
    const typo = await cli(['checklist', 'run', 'daily', '--workspace', join(dir, 'wss')]);
    expect(typo.code).toBe(1);
    expect(typo.err).toMatch(/ERR_WORKSPACE_INVALID/);
    expect(existsSync(join(dir, 'wss'))).toBe(false);
    const adv = await cli(['checklist', 'advice', 'ERR_EXPORT_BASE_MISSING']);
    expect(adv.code).toBe(0);
    expect(adv.out).toMatch(/immediate action: .*mirror:full/);
  });

  it('a stuck lock: the refusal names the holder, status shows pid/host/since/command, advice gives the action for the code, the symptom text and lower case', async () => {
    const { spawn } = await import('node:child_process');
    const { hostname } = await import('node:os');
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const since = '2026-01-01T00:00:00.000Z';
      writeFileSync(join(ws, 'lock'), JSON.stringify({ pid: child.pid, host: hostname(), since, purpose: 'mirror import' }));
      const busy = await cli(['retention', 'run', '--workspace', ws]);
      expect(busy.code).toBe(1);
      expect(busy.err).toMatch(/ERR_WORKSPACE_BUSY/);
      expect(busy.err).toContain(`pid ${child.pid}`);
      const st = await cli(['status', '--workspace', ws]);
      expect(st.code).toBe(0);
      expect(st.out).toContain(`lock: held by pid ${child.pid} on ${hostname()} since ${since}: mirror import`);
      const stj = JSON.parse((await cli(['status', '--workspace', ws, '--json'])).out);
      expect(stj.lock).toMatchObject({ pid: child.pid, host: hostname(), since, command: 'mirror import', alive: true, stale: false });
      for (const q of ['ERR_WORKSPACE_BUSY', 'err_workspace_busy', 'Run stuck in pending', 'run stuck in pending']) {
        const a = await cli(['checklist', 'advice', q]);
        expect(a.code, q).toBe(0);
        expect(a.out, q).toMatch(/mirror status/);
      }
      const sig = await cli(['checklist', 'advice', 'errorCode=signing']);
      expect(sig.out).toMatch(/7\.3/);
      expect((await cli(['checklist', 'advice', 'Signing failure (errorCode=signing)'])).out).toMatch(/7\.3/);
      expect((await cli(['checklist', 'advice', 'err_verify_signature'])).out).toMatch(/mirror checklist run 7\.3/);
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('exit', r));
    const stale = await cli(['status', '--workspace', ws]);
    expect(stale.out).toMatch(/no longer runs: the next command takes it over/);
    expect((await cli(['retention', 'run', '--workspace', ws])).code).toBe(0);
  });

  it('Ctrl-C at a prompt cancels at once with a message (exit 130); the run keeps what was recorded', async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const input = new PassThrough() as PassThrough & { isTTY?: boolean };
    input.isTTY = true; // a terminal that never answers
    let out = '';
    let err = '';
    stdout.on('data', (d) => (out += d));
    stderr.on('data', (d) => (err += d));
    const ac = new AbortController();
    const io: CliIo = { stdout, stderr, stdin: input, env: {}, cwd: dir, signal: ac.signal };
    const pending = runCli(['checklist', 'run', 'weekly', '--workspace', ws, '--operator', 'dana'], io);
    for (let i = 0; i < 200 && !/Rotate short-lived/.test(err); i++) await new Promise((r) => setTimeout(r, 10));
    expect(err).toMatch(/Rotate short-lived/);
    ac.abort();
    const code = await pending;
    expect(code).toBe(130);
    expect(err).toMatch(/ERR_CANCELLED.*Cancelled by the operator at the prompt/);
    void out;
  });

  it.skipIf(!existsSync(join(KITS, 'ecdsa-p256')))('7.2 --yes with a corrupted delta in the library: staging stays at generation 3, the run is blocked naming the bundle (exit 1)', async () => {
    const KIT = join(KITS, 'ecdsa-p256');
    const pub = join(KITS, 'ecdsa-p256.trusted.pub');
    expect((await cli(['import', KIT, '--workspace', ws, '--key', pub])).code).toBe(0);
    const fp = JSON.parse((await cli(['verify', KIT, '--key', pub, '--json'])).out).keys.signedBy[0] as string;
    const tenant = (JSON.parse(readFileSync(join(KIT, 'offline-manifest.json'), 'utf8')) as { tenant: string }).tenant;
    expect((await cli(['keys', 'add', pub, '--tenant', tenant, '--fingerprint', fp, '--reason', 'CHG-1 fixture key', '--workspace', ws])).code).toBe(0);
    const st = JSON.parse((await cli(['status', '--workspace', ws, '--json'])).out) as { generation: number; library: { generation: number | null; file: string }[] };
    expect(st.generation).toBe(3);
    const lib2 = st.library.find((l) => l.generation === 2)!;
    const f = join(ws, lib2.file);
    const b = readFileSync(f);
    b[b.length >> 1] ^= 1;
    writeFileSync(f, b);
    const r = await cli(['checklist', 'run', '7.2', '--workspace', ws, '--yes', '--operator', 'dana', '--input', 'reason=INC-5 staging suspect']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/BLOCKED/);
    expect(r.out).toContain(lib2.file.split('/').pop()!);
    expect(r.out).toMatch(/Staging stays at generation 3/);
    expect(r.out).toMatch(/mirror rollback/);
    expect(r.out).not.toMatch(/ERR_EXPORT_BASE_MISSING/);
    expect(JSON.parse((await cli(['status', '--workspace', ws, '--json'])).out).generation).toBe(3);
    expect((await cli(['verify', ws])).code).toBe(0);
    // At a terminal the offers are listed; Enter leaves staging as it is, a number takes a rollback offer.
    const keep = await cli(['checklist', 'run', '7.2', '--workspace', ws, '--operator', 'dana'], '\n', true);
    expect(keep.err).toMatch(/What is still possible:\n {2}1\. Copy /);
    expect(JSON.parse((await cli(['status', '--workspace', ws, '--json'])).out).generation).toBe(3);
    const offers = keep.err.split('\n').filter((l) => /^ {2}\d+\. /.test(l));
    const n = offers.findIndex((l) => /kept generation 2/.test(l)) + 1;
    expect(n).toBeGreaterThan(0);
    const rb = await cli(['checklist', 'run', '7.2', '--workspace', ws, '--operator', 'dana'], `${n}\n`, true);
    expect(rb.out).toMatch(/Rolled back to generation 2/);
    expect(JSON.parse((await cli(['status', '--workspace', ws, '--json'])).out).generation).toBe(2);
  });
});
