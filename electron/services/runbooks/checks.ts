/**
 * The registry of automated checks and actions a procedure step can name.
 * Each is a function of a context {ws, db, settings, now, params, ...}
 * returning {status, summary, evidence}: read-only checks report on the
 * workspace; actions (`mutates: true`) drive the real engines (staging
 * import, freeze) and report what they did.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, statfsSync, writeFileSync, mkdirSync, createReadStream } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';
import { DecompressStream } from 'zstd-napi';
import { isErrorCode, isOpsError, runbookAdvice, toErrorShape } from '../../../shared/errors';
import type { Settings } from '../../../shared/settings';
import type { Verdict } from '../../../shared/types';
import type { Db } from '../db/index';
import { listTrustedKeys } from '../keys/index';
import { readLogs } from '../obs/index';
import type { Workspace } from '../workspace/index';
import { verifyMirrorBundle } from '../verify/mirror';
import { verifyTrivyBundle } from '../verify/trivy';
import { stagingEngine, verifyEngine } from './engine-bridge';
import { failureLookup } from './failures';
import { freezeImports, freezeState, resumeImports } from './freeze';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'unknown';

export interface CheckResult {
  status: CheckStatus;
  summary: string;
  evidence: Record<string, unknown>;
}

export interface CheckContext {
  ws: Workspace;
  db: Db;
  settings: Settings;
  now: Date;
  /** Step parameters with run inputs substituted. */
  params: Record<string, unknown>;
  /** Evidence of the steps already completed in this run, by step id. */
  previous: Record<string, Record<string, unknown>>;
  runId?: string;
  operator?: string;
  /** age identities for decrypting bundles (never stored). */
  identities?: string[];
  signal?: AbortSignal;
}

export interface CheckDef {
  description: string;
  /** Changes workspace state (imports, freeze): runs once per step, never on a mere status view. */
  mutates?: boolean;
  run(ctx: CheckContext): Promise<CheckResult> | CheckResult;
}

const HOUR = 3_600_000;

function tableExists(db: Db, name: string): boolean {
  return !!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

function num(v: unknown, dflt: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : dflt;
}

interface AuditPick {
  id: number;
  ts: string;
  action: string;
  subject: string;
  details: Record<string, unknown>;
}

function latestAudit(db: Db, actions: string[]): AuditPick | null {
  const r = db
    .prepare(`SELECT id, ts, action, subject, details FROM audit_log WHERE action IN (${actions.map(() => '?').join(',')}) ORDER BY id DESC LIMIT 1`)
    .get(...actions) as { id: number; ts: string; action: string; subject: string; details: string } | undefined;
  if (!r) return null;
  let details: Record<string, unknown> = {};
  try {
    details = JSON.parse(r.details) as Record<string, unknown>;
  } catch {
    /* verified elsewhere */
  }
  return { ...r, details };
}

/** Bytes under a folder, each inode counted once (hard-linked generations share inodes). */
export function treeBytes(dir: string, seen: Set<string> = new Set()): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      const p = join(d, n);
      let st;
      try {
        st = lstatSync(p, { bigint: false });
      } catch {
        continue;
      }
      if (st.isDirectory()) stack.push(p);
      else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
        total += st.size;
      }
    }
  }
  return total;
}

function fmt(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i ? 1 : 0)} ${u[i]}`;
}

function worst(a: CheckStatus, b: CheckStatus): CheckStatus {
  const rank: Record<CheckStatus, number> = { pass: 0, unknown: 1, warn: 2, fail: 3 };
  return rank[a] >= rank[b] ? a : b;
}

function verdictEvidence(v: Verdict): Record<string, unknown> {
  return {
    ok: v.ok,
    code: v.code,
    message: v.message,
    action: v.action,
    kind: v.kind,
    path: v.path,
    exportId: v.exportId,
    generation: v.generation,
    warnings: v.warnings,
    failedChecks: v.checks.filter((c) => !c.ok).map((c) => `${c.name}${c.detail ? `: ${c.detail}` : ''}`),
    signedBy: v.keys?.signedBy ?? [],
    items: v.items.map((i) => ({ path: i.path, kind: i.kind, ok: i.ok, code: i.code, exportId: i.exportId, generation: i.generation })),
    stats: v.stats,
  };
}

function verdictResult(v: Verdict, what: string): CheckResult {
  if (v.ok) return { status: v.warnings.length ? 'warn' : 'pass', summary: `${what} verified${v.warnings.length ? ` with ${v.warnings.length} warning(s): ${v.warnings[0]}` : ''}.`, evidence: verdictEvidence(v) };
  return { status: 'fail', summary: `${what} REFUSED [${v.code}]: ${v.message}${v.action ? ` What to do: ${v.action}` : ''}`, evidence: verdictEvidence(v) };
}

function errorResult(e: unknown, what: string): CheckResult {
  const s = toErrorShape(e);
  return { status: 'fail', summary: `${what} failed [${s.code}]: ${s.message}${s.action ? ` What to do: ${s.action}` : ''}`, evidence: { error: s } };
}

function resolveInputPath(ctx: CheckContext, p: string): string {
  return isAbsolute(p) ? p : resolve(ctx.ws.dir, p);
}

/** Tenants of data this workspace has seen: staging generations, the chain, and the library's verified bundles. */
function tenantsSeen(db: Db): string[] {
  const set = new Set<string>();
  if (tableExists(db, 'staging_generations')) for (const r of db.prepare('SELECT DISTINCT tenant FROM staging_generations').all() as { tenant: string }[]) set.add(r.tenant);
  if (tableExists(db, 'staging_state')) {
    const r = db.prepare('SELECT chain_tenant FROM staging_state WHERE id = 1').get() as { chain_tenant: string | null } | undefined;
    if (r?.chain_tenant) set.add(r.chain_tenant);
  }
  return [...set].sort();
}

interface LibraryEntry {
  sha256: string;
  file: string;
  name: string;
  kind: string;
  exportId: string | null;
  generation: number | null;
  resetBaseline: boolean;
  createdAt: string | null;
}

function libraryEntries(db: Db): LibraryEntry[] {
  if (!tableExists(db, 'staging_library')) return [];
  const rows = db.prepare('SELECT sha256, file, name, kind, export_id, generation, reset_baseline, created_at FROM staging_library WHERE pruned_at IS NULL').all() as {
    sha256: string; file: string; name: string; kind: string; export_id: string | null; generation: number | null; reset_baseline: number; created_at: string | null;
  }[];
  return rows.map((r) => ({ sha256: r.sha256, file: r.file, name: r.name, kind: r.kind, exportId: r.export_id, generation: r.generation, resetBaseline: r.reset_baseline === 1, createdAt: r.created_at }));
}

/** The restore chain from the library: the newest full (or reset-baseline delta) and the deltas after it, in generation order. */
export function restoreChain(db: Db): { full: LibraryEntry | null; deltas: LibraryEntry[]; gaps: number[] } {
  const lib = libraryEntries(db).filter((e) => e.kind === 'mirror-full' || e.kind === 'mirror-delta');
  const fulls = lib.filter((e) => (e.kind === 'mirror-full' || e.resetBaseline) && e.generation !== null).sort((a, b) => b.generation! - a.generation!);
  const full = fulls[0] ?? null;
  if (!full) return { full: null, deltas: [], gaps: [] };
  const byGen = new Map<number, LibraryEntry>();
  for (const e of lib) if (e.kind === 'mirror-delta' && e.generation !== null && e.generation > full.generation! && !byGen.has(e.generation)) byGen.set(e.generation, e);
  const deltas: LibraryEntry[] = [];
  const gaps: number[] = [];
  const max = Math.max(full.generation!, ...byGen.keys());
  for (let g = full.generation! + 1; g <= max; g++) {
    const d = byGen.get(g);
    if (d) deltas.push(d);
    else gaps.push(g);
  }
  return { full, deltas, gaps };
}

async function readBundleManifests(file: string): Promise<{ exportJson?: Buffer; manifestYaml?: Buffer }> {
  const out: { exportJson?: Buffer; manifestYaml?: Buffer } = {};
  const parser = new Parser({ strict: true });
  parser.on('entry', (entry: ReadEntry) => {
    const target = entry.path === 'mirror/export.json' ? 'exportJson' : entry.path === 'mirror/manifest.yaml' ? 'manifestYaml' : null;
    if (!target || entry.size > 16 * 1024 * 1024) {
      entry.resume();
      return;
    }
    const chunks: Buffer[] = [];
    entry.on('data', (c: Buffer) => chunks.push(c));
    entry.on('end', () => (out[target] = Buffer.concat(chunks)));
  });
  await pipeline(createReadStream(file), new DecompressStream(), parser);
  return out;
}

export const CHECKS: Record<string, CheckDef> = {
  'staging.verify': {
    description: 'Re-reads the staging tree and checks it against the signed state of the current export (mirror verify of the workspace).',
    async run(ctx) {
      const staging = await stagingEngine();
      if (!staging) return { status: 'unknown', summary: 'The staging engine is not available in this build, so the staging tree could not be verified.', evidence: { available: false } };
      try {
        const v = await staging.verifyStagingTree(ctx.ws, { signal: ctx.signal });
        if (!v.ok && v.code === 'ERR_INPUT_NOT_FOUND') return { status: 'warn', summary: v.message, evidence: verdictEvidence(v) };
        return verdictResult(v, 'Staging tree');
      } catch (e) {
        if (isOpsError(e) && e.code === 'ERR_INPUT_NOT_FOUND') return { status: 'warn', summary: `Nothing is staged yet: ${e.message}`, evidence: { error: e.toJSON() } };
        return errorResult(e, 'Staging tree verification');
      }
    },
  },

  'imports.last': {
    description: 'The last import or apply recorded in the audit log, and whether it verified.',
    run(ctx) {
      const last = latestAudit(ctx.db, ['mirror.bundle.imported', 'mirror.delta.applied', 'mirror.delta.apply_failed', 'mirror.verify.failed', 'mirror.verify.passed']);
      if (!last) return { status: 'warn', summary: 'No import has been recorded in this workspace yet.', evidence: {} };
      const lastOk = latestAudit(ctx.db, ['mirror.bundle.imported', 'mirror.delta.applied']);
      const evidence = { last, lastSuccessful: lastOk };
      if (last.action === 'mirror.delta.apply_failed' || last.action === 'mirror.verify.failed') {
        const code = String(last.details.errorCode ?? 'unknown');
        const advice = isErrorCode(code) ? runbookAdvice(code) : undefined;
        return {
          status: 'fail',
          summary: `The last import (${last.subject}, ${last.ts}) failed${last.action === 'mirror.verify.failed' ? ' verification' : ''} with ${code}.${advice ? ` What to do: ${advice.action}` : ''}`,
          evidence: { ...evidence, advice: advice ?? null },
        };
      }
      return { status: 'pass', summary: `The last import ${last.subject} (${last.action}) at ${last.ts} verified and applied.`, evidence };
    },
  },

  'storage.capacity': {
    description: 'Bytes held by staging and the library against the capacity thresholds, and free space on the workspace volume.',
    run(ctx) {
      const cap = ctx.settings.capacity;
      const seen = new Set<string>();
      const staging = treeBytes(ctx.ws.layout.staging, seen);
      const library = treeBytes(ctx.ws.layout.library, seen);
      const used = staging + library;
      let free: number | null = null;
      try {
        const s = statfsSync(ctx.ws.dir);
        free = Number(s.bavail) * Number(s.bsize);
      } catch {
        free = null;
      }
      const fw = num(ctx.params.warnBytes, cap.warnBytes);
      const ff = num(ctx.params.failBytes, cap.failBytes);
      const fwf = num(ctx.params.warnFreeBytes, cap.warnFreeBytes);
      const fff = num(ctx.params.failFreeBytes, cap.failFreeBytes);
      let status: CheckStatus = 'pass';
      const notes: string[] = [];
      if (used >= ff) {
        status = 'fail';
        notes.push(`staging + library use ${fmt(used)}, at or above the failure level ${fmt(ff)}`);
      } else if (used >= fw) {
        status = 'warn';
        notes.push(`staging + library use ${fmt(used)}, above the warning level ${fmt(fw)}`);
      }
      if (free === null) {
        status = worst(status, 'unknown');
        notes.push('free space could not be read');
      } else if (free <= fff) {
        status = 'fail';
        notes.push(`only ${fmt(free)} free on the workspace volume (failure level ${fmt(fff)})`);
      } else if (free <= fwf) {
        status = worst(status, 'warn');
        notes.push(`${fmt(free)} free on the workspace volume (warning level ${fmt(fwf)})`);
      }
      const summary = notes.length
        ? `Storage: ${notes.join('; ')}.${status === 'fail' || status === 'warn' ? ' Run retention (mirror retention run) or move the workspace to a larger volume.' : ''}`
        : `Storage: staging ${fmt(staging)} + library ${fmt(library)} = ${fmt(used)} (warn at ${fmt(fw)}); ${fmt(free ?? 0)} free.`;
      return { status, summary, evidence: { stagingBytes: staging, libraryBytes: library, usedBytes: used, freeBytes: free, thresholds: { warnBytes: fw, failBytes: ff, warnFreeBytes: fwf, failFreeBytes: fff } } };
    },
  },

  'retention.recent': {
    description: 'A retention run (or pruning) recorded within the last 24 hours (ExportCenterRetentionStale); a run that pruned nothing counts.',
    run(ctx) {
      const hours = num(ctx.params.maxAgeHours, 24);
      const last = latestAudit(ctx.db, ['retention.run', 'retention.pruned']);
      if (!last) return { status: 'fail', summary: 'No retention run has ever been recorded (ExportCenterRetentionStale). Run it: mirror retention run.', evidence: { maxAgeHours: hours } };
      const age = ctx.now.getTime() - Date.parse(last.ts);
      const evidence = { last, ageHours: Math.round((age / HOUR) * 10) / 10, maxAgeHours: hours };
      if (age < -60_000) return { status: 'unknown', summary: `The last retention run (${last.ts}) is later than the host clock (${ctx.now.toISOString()}): check the clock.`, evidence };
      if (age > hours * HOUR) return { status: 'fail', summary: `The last retention run was ${evidence.ageHours} h ago (${last.ts}), more than ${hours} h (ExportCenterRetentionStale). Run it: mirror retention run, then check its scheduler.`, evidence };
      return { status: 'pass', summary: `Retention ran ${evidence.ageHours} h ago (${last.ts}).`, evidence };
    },
  },

  'data.freshness': {
    description: 'Age of the newest applied export (its createdAt) against the staleness budget; unknown when the host clock is earlier than data already seen.',
    run(ctx) {
      const budget = num(ctx.params.stalenessHours, ctx.settings.stalenessHours);
      if (!tableExists(ctx.db, 'staging_generations')) return { status: 'unknown', summary: 'The staging engine has not recorded any generation table yet.', evidence: {} };
      const newest = ctx.db.prepare('SELECT export_id, generation, created_at, applied_at FROM staging_generations ORDER BY created_at DESC LIMIT 1').get() as { export_id: string; generation: number; created_at: string; applied_at: string } | undefined;
      if (!newest) return { status: 'unknown', summary: 'No export has been applied yet, so data freshness is unknown.', evidence: { stalenessHours: budget } };
      // The latest instant this host has already seen: data timestamps and our own records.
      const seenCandidates = [newest.created_at, newest.applied_at];
      const libMax = tableExists(ctx.db, 'staging_library') ? (ctx.db.prepare('SELECT MAX(created_at) AS m FROM staging_library').get() as { m: string | null }).m : null;
      if (libMax) seenCandidates.push(libMax);
      const auditMax = (ctx.db.prepare('SELECT ts FROM audit_log ORDER BY id DESC LIMIT 1').get() as { ts: string } | undefined)?.ts;
      if (auditMax) seenCandidates.push(auditMax);
      const latestSeen = seenCandidates.filter((t) => !Number.isNaN(Date.parse(t))).sort((a, b) => Date.parse(b) - Date.parse(a))[0];
      const evidence = { newest, latestSeen, now: ctx.now.toISOString(), stalenessHours: budget };
      if (latestSeen && Date.parse(latestSeen) > ctx.now.getTime() + 60_000) {
        return { status: 'unknown', summary: `The host clock (${ctx.now.toISOString()}) is earlier than data already seen (${latestSeen}): freshness cannot be judged. Check the host clock.`, evidence };
      }
      const ageH = (ctx.now.getTime() - Date.parse(newest.created_at)) / HOUR;
      const e = { ...evidence, ageHours: Math.round(ageH * 10) / 10 };
      if (ageH > budget) return { status: 'fail', summary: `The newest data (${newest.export_id}, created ${newest.created_at}) is ${e.ageHours} h old, beyond the ${budget} h budget. Bring in the latest bundles.`, evidence: e };
      if (ageH > budget * 0.75) return { status: 'warn', summary: `The newest data (${newest.export_id}) is ${e.ageHours} h old, close to the ${budget} h budget.`, evidence: e };
      return { status: 'pass', summary: `The newest data (${newest.export_id}, generation ${newest.generation}) is ${e.ageHours} h old (budget ${budget} h).`, evidence: e };
    },
  },

  'logs.scan': {
    description: 'Scans the local logs since the last run of this check for adapter.trivy.unsupported_schema_version and mirror.delta.apply_failed.',
    mutates: true, // advances its bookmark
    run(ctx) {
      const events = Array.isArray(ctx.params.events) ? (ctx.params.events as string[]) : ['adapter.trivy.unsupported_schema_version', 'mirror.delta.apply_failed'];
      const key = 'check.logs.scan.since';
      const row = ctx.db.prepare('SELECT value FROM console_state WHERE key = ?').get(key) as { value: string } | undefined;
      const since = row?.value;
      const lines = readLogs(ctx.ws, since).filter((l) => events.includes(l.event) && l.ts <= ctx.now.toISOString());
      const until = ctx.now.toISOString();
      ctx.db.prepare('INSERT INTO console_state (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at').run(key, until, until);
      const counts: Record<string, number> = {};
      for (const l of lines) counts[l.event] = (counts[l.event] ?? 0) + 1;
      const evidence = { since: since ?? null, until, events, counts, matches: lines.slice(-20) };
      if (lines.length === 0) return { status: 'pass', summary: `No ${events.join(' or ')} in the logs ${since ? `since ${since}` : '(all logs)'}.`, evidence };
      const parts = Object.entries(counts).map(([k, v]) => `${v} × ${k}`);
      const codes = [...new Set(lines.map((l) => l.errorCode).filter((c): c is string => !!c))];
      return { status: 'fail', summary: `Found ${parts.join(', ')} ${since ? `since ${since}` : 'in the logs'}${codes.length ? ` (error codes: ${codes.join(', ')})` : ''}. See the failure table: mirror checklist advice <code>.`, evidence: { ...evidence, codes } };
    },
  },

  'keys.tenants': {
    description: 'A trusted key is pinned for every tenant seen in the library and staging.',
    run(ctx) {
      const tenants = tenantsSeen(ctx.db);
      const missing = tenants.filter((t) => listTrustedKeys(ctx.db, t).length === 0);
      const byTenant = Object.fromEntries(tenants.map((t) => [t, listTrustedKeys(ctx.db, t).map((k) => k.fingerprint)]));
      if (tenants.length === 0) {
        const any = listTrustedKeys(ctx.db);
        return { status: any.length ? 'pass' : 'warn', summary: any.length ? `No data seen yet; ${any.length} key(s) trusted.` : 'No data seen yet and no key trusted: import a key (mirror keys add) before the first bundle.', evidence: { tenants, keys: any.map((k) => `${k.tenant}/${k.fingerprint}`) } };
      }
      if (missing.length) return { status: 'fail', summary: `No trusted key for tenant(s) ${missing.join(', ')}: their bundles cannot verify. Import the key with a change record (mirror keys add --tenant …).`, evidence: { tenants, missing, byTenant } };
      return { status: 'pass', summary: `Every tenant seen (${tenants.join(', ')}) has a trusted key.`, evidence: { tenants, byTenant } };
    },
  },

  'kit.latest': {
    description: 'The kit (or, without one, the library) holds the latest full bundle and every delta after it, with no gap.',
    run(ctx) {
      const kitPath = str(ctx.params.kit);
      const wantDeltas = num(ctx.params.deltas, ctx.settings.retention.keepDeltas);
      let entries: { path: string; kind: string; generation: number | null; exportId: string | null }[];
      let source: string;
      if (kitPath) {
        const dir = resolveInputPath(ctx, kitPath);
        const mf = join(dir, 'offline-manifest.json');
        if (!existsSync(mf)) return { status: 'fail', summary: `${dir} is not an offline kit (offline-manifest.json is missing).`, evidence: { kit: dir } };
        try {
          const m = JSON.parse(readFileSync(mf, 'utf8')) as { entries?: { path: string; kind: string; generation?: number; exportId?: string }[] };
          entries = (m.entries ?? []).map((e) => ({ path: e.path, kind: e.kind, generation: typeof e.generation === 'number' ? e.generation : null, exportId: e.exportId ?? null }));
          for (const e of entries) if (!existsSync(join(dir, e.path))) return { status: 'fail', summary: `The kit lists ${e.path}, but the file is missing.`, evidence: { kit: dir, missing: e.path } };
        } catch (e) {
          return { status: 'fail', summary: `The kit manifest ${mf} is unreadable: ${(e as Error).message}`, evidence: { kit: dir } };
        }
        source = `The kit ${dir}`;
      } else {
        entries = libraryEntries(ctx.db).map((e) => ({ path: e.file, kind: e.kind, generation: e.generation, exportId: e.exportId }));
        source = 'The library';
      }
      const fulls = entries.filter((e) => e.kind === 'mirror-full' && e.generation !== null).sort((a, b) => b.generation! - a.generation!);
      const full = fulls[0];
      if (!full) return { status: 'fail', summary: `${source} holds no full mirror bundle: a kit needs the latest full bundle (runbook 4.3).`, evidence: { source, entries } };
      const deltas = entries.filter((e) => e.kind === 'mirror-delta' && e.generation !== null && e.generation > full.generation!).sort((a, b) => a.generation! - b.generation!);
      const gens = new Set(deltas.map((d) => d.generation!));
      const max = deltas.length ? deltas[deltas.length - 1].generation! : full.generation!;
      const gaps: number[] = [];
      for (let g = full.generation! + 1; g <= max; g++) if (!gens.has(g)) gaps.push(g);
      // Is the library newer than the kit?
      const libMax = Math.max(0, ...libraryEntries(ctx.db).filter((e) => e.kind.startsWith('mirror-') && e.generation !== null).map((e) => e.generation!));
      const evidence = { source, full, deltas, gaps, latestGeneration: max, libraryLatestGeneration: libMax || null, wantDeltas };
      if (gaps.length) return { status: 'fail', summary: `${source}: deltas for generation(s) ${gaps.join(', ')} are missing after the full bundle ${full.exportId ?? full.path} (generation ${full.generation}).`, evidence };
      if (kitPath && libMax > max) return { status: 'warn', summary: `The kit ends at generation ${max}, but the library already holds generation ${libMax}: the kit is not the latest.`, evidence };
      return { status: 'pass', summary: `${source} holds the full bundle ${full.exportId ?? full.path} (generation ${full.generation}) and ${deltas.length} delta(s) after it, without gaps, up to generation ${max}.`, evidence };
    },
  },

  'imports.not_frozen': {
    description: 'Imports are not frozen (runbook 7.3).',
    run(ctx) {
      const s = freezeState(ctx.db);
      return s.frozen
        ? { status: 'warn', summary: `Imports are frozen since ${s.since}: ${s.reason}. Resume them once signing is healthy (mirror checklist run kms-outage).`, evidence: { ...s } }
        : { status: 'pass', summary: 'Imports are not frozen.', evidence: { ...s } };
    },
  },

  'bundle.verify': {
    description: 'Verifies a bundle or kit (signatures with the tenant\'s pinned keys, content, digests) without importing it.',
    async run(ctx) {
      const p = str(ctx.params.path);
      if (!p) return { status: 'fail', summary: 'No bundle or kit path was given (run input "path").', evidence: {} };
      const path = resolveInputPath(ctx, p);
      if (!existsSync(path)) return { status: 'fail', summary: `${path} does not exist.`, evidence: { path } };
      const tenant = str(ctx.params.tenant);
      const keys = listTrustedKeys(ctx.db, tenant);
      if (keys.length === 0) return { status: 'fail', summary: `No trusted key${tenant ? ` for tenant ${tenant}` : ''}: import the Export Center key first (mirror keys add).`, evidence: { path } };
      try {
        const engine = await verifyEngine();
        if (engine) return verdictResult(await engine.verifyPath(path, { keys, identities: ctx.identities, signal: ctx.signal }), basename(path));
        if (lstatSync(path).isDirectory()) return { status: 'unknown', summary: 'Kit verification is not available in this build (verify engine missing).', evidence: { path } };
        const r = await verifyMirrorBundle(path, { keys, identities: ctx.identities, signal: ctx.signal });
        return verdictResult(r.verdict, basename(path));
      } catch (e) {
        return errorResult(e, `Verification of ${basename(path)}`);
      }
    },
  },

  'trivy.verify': {
    description: 'Verifies a Trivy DB bundle: detached signature with the pinned keys, then the database format (runbook 8.1).',
    async run(ctx) {
      const p = str(ctx.params.path);
      if (!p) return { status: 'fail', summary: 'No Trivy bundle path was given (run input "path").', evidence: {} };
      const path = resolveInputPath(ctx, p);
      if (!existsSync(path)) return { status: 'fail', summary: `${path} does not exist.`, evidence: { path } };
      const keys = listTrustedKeys(ctx.db, str(ctx.params.tenant));
      const sig = str(ctx.params.signature);
      try {
        const v = await verifyTrivyBundle(path, { keys, signature: sig ? resolveInputPath(ctx, sig) : undefined, signal: ctx.signal });
        return verdictResult(v, basename(path));
      } catch (e) {
        return errorResult(e, `Verification of ${basename(path)}`);
      }
    },
  },

  'bundles.verify_recent': {
    description: 'Verifies the most recent library bundle of each profile (runbook 4.2: verify a recent run for each profile).',
    async run(ctx) {
      if (!tableExists(ctx.db, 'staging_generations') || !tableExists(ctx.db, 'staging_library')) return { status: 'unknown', summary: 'The staging engine has not recorded a library yet.', evidence: {} };
      const rows = ctx.db
        .prepare(`SELECT g.profile_id, g.tenant, g.export_id, g.generation, l.file FROM staging_generations g JOIN staging_library l ON l.sha256 = g.library_sha256
                  WHERE l.pruned_at IS NULL ORDER BY g.generation DESC`)
        .all() as { profile_id: string; tenant: string; export_id: string; generation: number; file: string }[];
      const perProfile = new Map<string, (typeof rows)[number]>();
      for (const r of rows) if (!perProfile.has(`${r.tenant}/${r.profile_id}`)) perProfile.set(`${r.tenant}/${r.profile_id}`, r);
      if (perProfile.size === 0) return { status: 'warn', summary: 'The library holds no bundle yet: nothing to verify.', evidence: {} };
      let status: CheckStatus = 'pass';
      const results: Record<string, unknown>[] = [];
      for (const [profile, r] of perProfile) {
        const file = resolve(ctx.ws.dir, r.file);
        try {
          const res = await verifyMirrorBundle(file, { keys: listTrustedKeys(ctx.db, r.tenant), identities: ctx.identities, signal: ctx.signal });
          const v = verdictResult(res.verdict, `${profile} ${r.export_id}`);
          status = worst(status, v.status);
          results.push({ profile, exportId: r.export_id, generation: r.generation, file, status: v.status, summary: v.summary });
        } catch (e) {
          status = 'fail';
          results.push({ profile, exportId: r.export_id, file, status: 'fail', summary: toErrorShape(e).message });
        }
      }
      return { status, summary: results.map((r) => r.summary).join(' '), evidence: { results } };
    },
  },

  'evidence.capture_manifests': {
    description: 'Copies export.json and manifest.yaml of a verified bundle (default: the newest in the library) into the evidence folder (runbook 4.3).',
    async run(ctx) {
      let p = str(ctx.params.path);
      let tenant = str(ctx.params.tenant);
      if (p && existsSync(resolveInputPath(ctx, p)) && lstatSync(resolveInputPath(ctx, p)).isDirectory()) {
        // A kit: its newest mirror bundle.
        const dir = resolveInputPath(ctx, p);
        try {
          const m = JSON.parse(readFileSync(join(dir, 'offline-manifest.json'), 'utf8')) as { tenant?: string; entries: { path: string; kind: string; generation?: number }[] };
          const newest = m.entries.filter((e) => e.kind.startsWith('mirror-')).sort((a, b) => (b.generation ?? 0) - (a.generation ?? 0))[0];
          if (!newest) return { status: 'fail', summary: `The kit ${dir} holds no mirror bundle.`, evidence: {} };
          p = join(dir, newest.path);
          tenant = tenant ?? m.tenant;
        } catch (e) {
          return { status: 'fail', summary: `The kit manifest in ${dir} is unreadable: ${(e as Error).message}`, evidence: {} };
        }
      }
      if (!p) {
        const lib = libraryEntries(ctx.db).filter((e) => e.kind.startsWith('mirror-') && e.generation !== null).sort((a, b) => b.generation! - a.generation!)[0];
        if (!lib) return { status: 'fail', summary: 'No bundle given and the library holds no mirror bundle.', evidence: {} };
        p = resolve(ctx.ws.dir, lib.file);
      }
      const file = resolveInputPath(ctx, p);
      const keys = listTrustedKeys(ctx.db, tenant);
      let r;
      try {
        r = await verifyMirrorBundle(file, { keys, identities: ctx.identities, signal: ctx.signal });
      } catch (e) {
        return errorResult(e, `Verification of ${basename(file)}`);
      }
      if (!r.verdict.ok || !r.exportJsonBytes) return { ...verdictResult(r.verdict, basename(file)), summary: `Manifests not captured: ${verdictResult(r.verdict, basename(file)).summary}` };
      const dir = join(ctx.ws.layout.evidence, ctx.runId ?? 'manifests', (r.verdict.exportId ?? basename(file)).replace(/[^A-Za-z0-9._-]/g, '_'));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'export.json'), r.exportJsonBytes);
      const captured = ['export.json'];
      let status: CheckStatus = 'pass';
      let note = '';
      if (/\.tar\.zst$/.test(file)) {
        try {
          const m = await readBundleManifests(file);
          if (m.exportJson && !m.exportJson.equals(r.exportJsonBytes)) return { status: 'fail', summary: `${basename(file)} changed while it was read: not captured.`, evidence: { file } };
          if (m.manifestYaml) {
            writeFileSync(join(dir, 'manifest.yaml'), m.manifestYaml);
            captured.push('manifest.yaml');
          }
        } catch (e) {
          status = 'warn';
          note = ` manifest.yaml could not be read: ${(e as Error).message}`;
        }
      } else {
        status = 'warn';
        note = ' manifest.yaml was not captured: the bundle is encrypted as a whole.';
      }
      return { status, summary: `Captured ${captured.join(' and ')} of ${r.verdict.exportId} (generation ${r.verdict.generation}) into ${dir}.${note}`, evidence: { dir, files: captured.map((f) => join(dir, f)), exportId: r.verdict.exportId, generation: r.verdict.generation, exportJsonSha256: r.exportJsonSha256 } };
    },
  },

  'apply.last_failure': {
    description: 'Finds the last failed apply or verification (runbook 7.1: identify the run and its root cause) and the failure table advice for its code.',
    run(ctx) {
      const failed = latestAudit(ctx.db, ['mirror.delta.apply_failed', 'mirror.verify.failed']);
      if (!failed) return { status: 'pass', summary: 'No failed apply is recorded: nothing to replay.', evidence: { found: false } };
      const later = ctx.db.prepare("SELECT id, ts, subject FROM audit_log WHERE id > ? AND action IN ('mirror.bundle.imported', 'mirror.delta.applied') ORDER BY id LIMIT 1").get(failed.id) as { id: number; ts: string; subject: string } | undefined;
      const code = String(failed.details.errorCode ?? '');
      const advice = failureLookup(code);
      const evidence = { found: true, failed, path: failed.details.path ?? null, errorCode: code || null, advice, resolvedBy: later ?? null };
      if (later) return { status: 'pass', summary: `The last failure (${failed.subject}, ${code}) at ${failed.ts} was followed by a successful apply (${later.subject} at ${later.ts}).`, evidence };
      return { status: 'warn', summary: `Last failed apply: ${failed.subject} at ${failed.ts}, ${code || 'no code'}. Cause: ${advice?.cause ?? 'unknown'} Immediate action: ${advice?.action ?? 'see the report'}`, evidence };
    },
  },

  'apply.replay': {
    description: 'Re-imports the bundle of the last failed apply through the staging engine (runbook 7.1), after its cause was fixed.',
    mutates: true,
    async run(ctx) {
      const prev = Object.values(ctx.previous).find((e) => e.found === true && 'failed' in e);
      const path = str(ctx.params.path) ?? (typeof prev?.path === 'string' ? prev.path : undefined);
      if (!path) return { status: 'pass', summary: 'No failed apply to replay.', evidence: {} };
      return importThrough(ctx, [resolveInputPath(ctx, path)], undefined, 'Replay');
    },
  },

  'restore.locate_full': {
    description: 'Locates the last full bundle in the library and the deltas after it (runbook 7.2).',
    run(ctx) {
      const chain = restoreChain(ctx.db);
      const evidence = { full: chain.full, deltas: chain.deltas, gaps: chain.gaps, files: chain.full ? [chain.full, ...chain.deltas].map((e) => resolve(ctx.ws.dir, e.file)) : [] };
      if (!chain.full) return { status: 'fail', summary: 'The library holds no full bundle to restore from. Bring in the latest full bundle (mirror:full) and import it.', evidence };
      for (const f of evidence.files) if (!existsSync(f)) return { status: 'fail', summary: `The library file ${f} is missing: the library is damaged.`, evidence };
      if (chain.gaps.length) return { status: 'warn', summary: `Full bundle ${chain.full.exportId} (generation ${chain.full.generation}); deltas for generation(s) ${chain.gaps.join(', ')} are missing, so the restore stops before the first gap.`, evidence };
      return { status: 'pass', summary: `Full bundle ${chain.full.exportId} (generation ${chain.full.generation}) and ${chain.deltas.length} delta(s) after it.`, evidence };
    },
  },

  'restore.verify_full': {
    description: 'Verifies the located full bundle (signatures and content) with the pinned keys.',
    async run(ctx) {
      const loc = ctx.previous['locate'] ?? Object.values(ctx.previous).find((e) => Array.isArray(e.files));
      const files = (loc?.files as string[] | undefined) ?? [];
      if (!files.length) return { status: 'fail', summary: 'No full bundle was located (run the locate step first).', evidence: {} };
      try {
        const r = await verifyMirrorBundle(files[0], { keys: listTrustedKeys(ctx.db, str(ctx.params.tenant)), identities: ctx.identities, signal: ctx.signal });
        return verdictResult(r.verdict, basename(files[0]));
      } catch (e) {
        return errorResult(e, `Verification of ${basename(files[0])}`);
      }
    },
  },

  'restore.apply_chain': {
    description: 'Extracts the full bundle into a new staging generation and applies the deltas after it in generation order, through the staging engine (forced over the generation rule, with the run as the written reason).',
    mutates: true,
    async run(ctx) {
      const loc = ctx.previous['locate'] ?? Object.values(ctx.previous).find((e) => Array.isArray(e.files));
      const files = (loc?.files as string[] | undefined) ?? [];
      if (!files.length) return { status: 'fail', summary: 'No full bundle was located (run the locate step first).', evidence: {} };
      const reason = str(ctx.params.reason) ?? `runbook 7.2 restore from the previous full bundle (checklist run ${ctx.runId ?? '?'})`;
      return importThrough(ctx, files, reason, 'Restore');
    },
  },

  'imports.freeze': {
    description: 'Freezes imports with a recorded reason (runbook 7.3): the staging engine then refuses imports with ERR_IMPORTS_FROZEN.',
    mutates: true,
    run(ctx) {
      const reason = str(ctx.params.reason);
      const cur = freezeState(ctx.db);
      if (cur.frozen) return { status: 'pass', summary: `Imports were already frozen since ${cur.since}: ${cur.reason}.`, evidence: { ...cur } };
      if (!reason) return { status: 'fail', summary: 'A reason is required to freeze imports (run input "reason").', evidence: {} };
      try {
        const s = freezeImports(ctx.ws, ctx.db, reason, ctx.operator);
        return { status: 'pass', summary: `Imports frozen: ${reason}.`, evidence: { ...s } };
      } catch (e) {
        return errorResult(e, 'Freezing imports');
      }
    },
  },

  'imports.resume': {
    description: 'Resumes imports after the outage, with a recorded reason.',
    mutates: true,
    run(ctx) {
      const reason = str(ctx.params.reason) ?? 'signing restored (runbook 7.3)';
      const cur = freezeState(ctx.db);
      if (!cur.frozen) return { status: 'pass', summary: 'Imports are not frozen.', evidence: { ...cur } };
      try {
        resumeImports(ctx.ws, ctx.db, reason, ctx.operator);
        return { status: 'pass', summary: `Imports resumed (frozen since ${cur.since}): ${reason}.`, evidence: { frozenSince: cur.since, frozenReason: cur.reason, reason } };
      } catch (e) {
        return errorResult(e, 'Resuming imports');
      }
    },
  },

  'failure.advice': {
    description: 'Looks up the failure table (runbook 6) for an error code: likely cause, immediate action, follow-up.',
    run(ctx) {
      const code = str(ctx.params.code) ?? '';
      const a = failureLookup(code);
      if (!a) return { status: 'unknown', summary: `No failure table entry for "${code}".`, evidence: { code } };
      return { status: 'pass', summary: `${a.symptom}: ${a.cause} Immediate action: ${a.action} Follow-up: ${a.followUp}`, evidence: { code, ...a } };
    },
  },
};

async function importThrough(ctx: CheckContext, files: string[], forceReason: string | undefined, what: string): Promise<CheckResult> {
  const staging = await stagingEngine();
  if (!staging) return { status: 'unknown', summary: `The staging engine is not available in this build: ${what.toLowerCase()} cannot run.`, evidence: { files } };
  const frozen = freezeState(ctx.db);
  if (frozen.frozen) return { status: 'fail', summary: `Imports are frozen since ${frozen.since} (${frozen.reason}); ${what.toLowerCase()} cannot import. Resume imports first (runbook 7.3).`, evidence: { files, frozen } };
  try {
    const res = await staging.importBundles(ctx.ws, files, { keys: listTrustedKeys(ctx.db), identities: ctx.identities, forceReason, operator: ctx.operator, signal: ctx.signal });
    const evidence = { files, ok: res.ok, code: res.code, message: res.message, items: res.items.map((i) => ({ path: i.path, outcome: i.outcome, code: i.code, exportId: i.exportId, generation: i.generation, message: i.message })), current: res.current ?? null };
    if (!res.ok) return { status: 'fail', summary: `${what} stopped [${res.code}]: ${res.message}`, evidence };
    return { status: 'pass', summary: `${what}: ${res.items.map((i) => `${i.exportId ?? basename(i.path)} ${i.outcome}`).join(', ')}. Staging is at ${res.current ? `${res.current.exportId} (generation ${res.current.generation})` : 'nothing'}.`, evidence };
  } catch (e) {
    return errorResult(e, what);
  }
}
