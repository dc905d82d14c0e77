/**
 * Fault-injection driver (test support, run as a child process): opens a
 * workspace for writing (which recovers any interrupted apply), then applies
 * the deterministic delta of fault.test.ts, calling a checkpoint before every
 * disk or database step, extraction included. With OKC_KILL_AT=k it SIGKILLs
 * itself at the k-th checkpoint; with OKC_KILL_AT=0 it prints the number of
 * checkpoints it passed (JSON on stdout).
 */
import { applyPrepared } from './apply';
import { readFileSync } from 'node:fs';
import { loadPublicKey } from '../verify/keys';
import { openWorkspace } from '../workspace/index';
import { importBundles, openForWrite } from './index';
import { faultChain, faultDelta, faultFull } from './fault-scenario';
import { fakeVerifiedBundle } from './testing';

const dir = process.env.OKC_WS;
if (!dir) throw new Error('OKC_WS is required');
const killAt = Number(process.env.OKC_KILL_AT ?? '0');
let n = 0;
const steps: string[] = [];
const checkpoint = (step: string): void => {
  n++;
  steps.push(step);
  if (n === killAt) process.kill(process.pid, 'SIGKILL');
};

if (process.env.OKC_REAL_BUNDLE) {
  // Real pipeline: verify + extract (one read) + apply of a real bundle; the parent kills at a random time.
  const ws = openWorkspace(dir);
  const keys = [loadPublicKey(readFileSync(process.env.OKC_KEY!, 'utf8'), 'cli')];
  process.stdout.write('start\n');
  const r = await importBundles(ws, [process.env.OKC_REAL_BUNDLE], { keys });
  process.stdout.write(JSON.stringify({ ok: r.ok, code: r.code, generation: r.current?.generation ?? null }) + '\n');
  process.exit(0);
}

// OKC_SCENARIO=full: the full bundle into an empty workspace (its tree moves into place in one rename).
const full = process.env.OKC_SCENARIO === 'full';
// OKC_SCENARIO=chain:<n>: generation n of faultChain over a workspace at n-1 (a delta that recycles a dropped tree).
const chain = /^chain:(\d+)$/.exec(process.env.OKC_SCENARIO ?? '');
const s = openForWrite(dir, 'fault driver', full ? { create: true } : undefined);
try {
  const spec = full ? faultFull() : chain ? faultChain(Number(chain[1])) : faultDelta();
  const b = fakeVerifiedBundle(s.ws, spec, { onFile: () => checkpoint('extract:file') });
  const r = applyPrepared(s.ws, s.db, b.prepared, { hooks: { checkpoint } });
  process.stdout.write(JSON.stringify({ checkpoints: n, steps, seq: r.seq, digest: r.stateDigest }) + '\n');
} finally {
  s.close();
}
