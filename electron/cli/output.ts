/** Shared output helpers for the CLI: JSON, readable reports, progress, error mapping. */
import { exitCodeFor, toErrorShape, type OpsErrorShape } from '../../shared/errors';
import { escapeUntrusted, terminalSafeJson } from '../../shared/escape';
import type { JobProgress, Verdict } from '../../shared/types';
import type { CliIo } from './command';

export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(terminalSafeJson(JSON.stringify(value, null, 2)) + '\n');
}

/** Prints an error the way every command does, and returns its exit code. */
export function reportError(io: CliIo, e: unknown, json: boolean): number {
  const err: OpsErrorShape = toErrorShape(e);
  if (json) {
    printJson(io, { ok: false, code: err.code, message: err.message, action: err.action ?? null, path: err.path ?? null });
  } else {
    io.stderr.write(`error [${err.code}]: ${err.message}\n`);
    if (err.path) io.stderr.write(`  where: ${escapeUntrusted(err.path, 'text')}\n`);
    if (err.action) io.stderr.write(`  what to do: ${err.action}\n`);
  }
  return exitCodeFor(err.code);
}

function fmtBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
export { fmtBytes as formatBytes };

/** A throttled single-line progress reporter on stderr, only when stderr is a TTY. */
export function progressPrinter(io: CliIo): ((p: JobProgress) => void) | undefined {
  if (!io.stderr.isTTY) return undefined;
  // Rate and ETA are per phase (read/verify, then each apply): measured from the phase's first report.
  let phase: string | null = null;
  let start = 0;
  let base = 0;
  let last = 0;
  let open = false;
  return (p) => {
    const now = Date.now();
    const label = p.bundleIndex && p.bundleCount ? `${p.phase} [${p.bundleIndex}/${p.bundleCount} ${p.bundle ?? ''}]` : p.phase;
    // The switch is a step, not bytes: one line when it is done.
    if (p.phase === 'switch') {
      if (p.bytesTotal && p.bytesDone >= p.bytesTotal) {
        if (open) io.stderr.write('\n');
        io.stderr.write(`\r${label}: done\n`);
        open = false;
        phase = null;
      }
      return;
    }
    if (label !== phase) {
      if (open) io.stderr.write('\n');
      phase = label;
      start = now;
      base = p.bytesDone;
      last = 0;
      open = false;
    } else if (now - last < 200 && p.bytesDone !== p.bytesTotal) return;
    last = now;
    const secs = Math.max((now - start) / 1000, 0.001);
    const rate = (p.bytesDone - base) / secs;
    let eta = '';
    if (p.bytesTotal && rate > 0) eta = ` ETA ${Math.max(0, Math.round((p.bytesTotal - p.bytesDone) / rate))}s`;
    const total = p.bytesTotal ? ` / ${fmtBytes(p.bytesTotal)}` : '';
    io.stderr.write(`\r${label}: ${fmtBytes(p.bytesDone)}${total} ${(rate / 1048576).toFixed(1)} MB/s${eta}   `);
    open = true;
    if (p.bytesTotal && p.bytesDone >= p.bytesTotal) {
      io.stderr.write('\n');
      open = false;
    }
  };
}

/** A readable report of a verdict (kits show one block per item). */
export function formatVerdict(v: Verdict, indent = ''): string {
  const lines: string[] = [];
  const head = v.ok ? 'VERIFIED' : `REFUSED [${v.code}]`;
  const id = v.exportId ? ` ${v.exportId}${v.generation !== null ? ` (generation ${v.generation})` : ''}` : '';
  lines.push(`${indent}${head}  ${v.kind}${id}  ${v.path}`);
  if (!v.ok) {
    lines.push(`${indent}  ${v.message}`);
    if (v.member) lines.push(`${indent}  member: ${v.member}`);
    if (v.action) lines.push(`${indent}  what to do: ${v.action}`);
  }
  if (v.keys && (v.keys.tried.length || v.keys.signedBy.length)) {
    lines.push(`${indent}  keys tried: ${v.keys.tried.join(', ') || 'none'}`);
    if (v.keys.signedBy.length) lines.push(`${indent}  signed by: ${v.keys.signedBy.join(', ')}`);
  }
  for (const c of v.checks) lines.push(`${indent}  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.detail ? `: ${c.detail}` : ''}`);
  for (const w of v.warnings) lines.push(`${indent}  warning: ${w}`);
  for (const item of v.items) lines.push(formatVerdict(item, indent + '  '));
  if (!indent) lines.push(`${v.stats.files} files, ${fmtBytes(v.stats.bytes)} in ${v.stats.seconds.toFixed(2)} s`);
  return lines.join('\n');
}

/**
 * The terminal guard: a stream wrapper that passes every text through
 * escapeUntrusted(…, 'layout') on its way out, so no control sequence from a
 * bundle-derived string reaches the operator's terminal even where a message
 * was not escaped at its source. Line breaks, tabs and \r (the progress line)
 * stay as written.
 */
export function guardedStream<T extends NodeJS.WritableStream & { isTTY?: boolean }>(stream: T): T {
  return new Proxy(stream, {
    get(target, prop, receiver) {
      if (prop === 'write') {
        return (chunk: unknown, ...rest: unknown[]) =>
          (target.write as (c: unknown, ...r: unknown[]) => boolean)(typeof chunk === 'string' ? escapeUntrusted(chunk, 'layout') : chunk, ...rest);
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
