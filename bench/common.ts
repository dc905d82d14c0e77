/** Shared set-up for the bundle benchmarks: the manual pipeline's inputs, the import probe and runner. */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MirrorBundleResult, SigningKey } from '../electron/services/producer/index';
import { CLI, firstLine, parseJsonOut, ROOT, timed } from './lib';

/** k.pub, the DER signature over export.json, and a sha256sum list built from export.json. */
export function writeManualInputs(dir: string, result: MirrorBundleResult, key: SigningKey): { bundle: string; pub: string; sigDer: string; sums: string } {
  const pub = join(dir, 'k.pub');
  writeFileSync(pub, key.publicPem);
  const sigDer = join(dir, 'export.sig.der');
  // The bundle's signatures/export.sig holds base64 of this DER signature; openssl wants the DER.
  writeFileSync(sigDer, Buffer.from(result.exportSignature, 'base64'));
  const sums = join(dir, 'sums.txt');
  writeFileSync(sums, result.exportJson.files.map((f) => `${f.sha256}  ${f.path}\n`).join(''));
  return { bundle: result.file, pub, sigDer, sums };
}

/** Does `mirror import` import the shipped demo kit into a fresh workspace? Returns null when it does, else why not. */
export async function probeImport(scratch: string): Promise<string | null> {
  const ws = join(scratch, 'probe-ws');
  const t = await timed(CLI, ['import', join(ROOT, 'resources/demo-kit'), '--workspace', ws, '--key', join(ROOT, 'resources/demo-kit.pub'), '--json']);
  if (t.exitCode === 0) return null;
  const j = parseJsonOut(t.stdout);
  const msg = (j && typeof j.message === 'string' ? j.message : '') || firstLine(t.stderr) || firstLine(t.stdout);
  return `mirror import does not import the demo kit yet (exit ${t.exitCode}: ${msg})`;
}

/**
 * `mirror import <bundle> --workspace <ws> --key <pub> --json`, timed; throws when it does not
 * succeed. `via`: in a process of its own (no engine used), or handed to the resident engine
 * serving ws (`mirror serve`, started by {@link startEngine}); either is checked, not assumed.
 */
export async function mirrorImport(bundle: string, ws: string, pub: string, via: 'own-process' | 'engine' = 'own-process') {
  const t = await timed(CLI, ['import', bundle, '--workspace', ws, '--key', pub, '--json'], { env: { OKC_ENGINE: via === 'engine' ? 'trace' : 'off' } });
  const j = parseJsonOut(t.stdout);
  if (t.exitCode !== 0 || (j && j.ok === false)) {
    throw new Error(`mirror import failed (exit ${t.exitCode}): ${j ? `${String(j.code)} ${String(j.message)}` : t.stderr.slice(0, 500)}`);
  }
  if (via === 'engine' && !/^engine: forwarded to /m.test(t.stderr)) throw new Error(`mirror import did not go to the engine: ${t.stderr.slice(0, 500)}`);
  return { ...t, json: j };
}

/** `mirror serve --workspace <ws> --json` in the background, once it serves; its peak and current RSS from /proc, and its imports' times. */
export async function startEngine(ws: string): Promise<{ pid: number; rss: () => { peak: number; now: number }; served: () => number[]; stop: () => Promise<void> }> {
  const child = spawn(CLI, ['serve', '--workspace', ws, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (log += d.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; i < 600 && !log.includes('"event":"serving"'); i++) {
    if (child.exitCode !== null) throw new Error(`mirror serve stopped: ${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!log.includes('"event":"serving"')) throw new Error(`mirror serve did not start: ${log}`);
  return {
    pid: child.pid!,
    rss: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
      return { peak: kb('VmHWM'), now: kb('VmRSS') };
    },
    /** Each import's own time in the engine (from its `served` events), in order. */
    served: () =>
      log
        .split('\n')
        .filter((l) => l.includes('"event":"served"'))
        .map((l) => (JSON.parse(l) as { seconds: number }).seconds),
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Numeric fields anywhere in a JSON value whose key matches the pattern (e.g. how an import split its work). */
export function findNumbers(v: unknown, pattern: RegExp, prefix = ''): Record<string, number> {
  const out: Record<string, number> = {};
  if (Array.isArray(v)) v.forEach((x, i) => Object.assign(out, findNumbers(x, pattern, `${prefix}[${i}]`)));
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (typeof x === 'number' && pattern.test(k)) out[key] = x;
      else Object.assign(out, findNumbers(x, pattern, key));
    }
  }
  return out;
}

/** The manual pipeline a careful operator would run (extract, [sync,] check every digest, check the signature), as one shell line. */
export function manual(b: { bundle: string; pub: string; sigDer: string; sums: string }, out: string, durable: boolean): string {
  return [
    `mkdir -p '${out}'`,
    `zstd -q -dc '${b.bundle}' | tar -x -C '${out}'`,
    durable ? 'sync' : ':',
    `cd '${out}/mirror' && sha256sum --quiet -c '${b.sums}'`,
    `openssl dgst -sha256 -verify '${b.pub}' -signature '${b.sigDer}' '${out}/mirror/export.json' >/dev/null`,
  ].join(' && ');
}
