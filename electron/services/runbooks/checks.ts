/**
 * The registry of automated checks and actions a procedure step can name.
 * Each is a function of a context {ws, db, settings, now, params, ...}
 * returning {status, summary, evidence}: read-only checks report on the
 * workspace; actions (`mutates: true`) drive the real engines (staging
 * import, freeze) and report what they did.
 */
import { copyFileSync, createReadStream, existsSync, lstatSync, mkdtempSync, readdirSync, rmSync, statfsSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { isErrorCode, isOpsError, OpsError, runbookAdvice, toErrorShape } from '../../../shared/errors';
import type { Settings } from '../../../shared/settings';
import type { Verdict } from '../../../shared/types';
import { appendAudit, findAudit, latestAudit as latestAuditRow } from '../audit/index';
import { openDatabase, type Db } from '../db/index';
import { bumpCounter, logEvent, metricValue } from '../obs/index';
import { planRetention, runRetention } from '../library/index';
import { openForWrite } from '../staging/index';
import { generationName, workspaceLayout } from '../workspace/layout';
import { verifyAuditChain } from '../audit/index';
import { listGenerations, listLibrary, readKitManifest, readState, ledgerBytes, type LibraryRow } from '../staging/index';
import type { Workspace } from '../workspace/index';
import type { RunbookServices } from './services';
import type { TrustedKey } from '../verify/keys';
import { FAILURE_EVENTS, unacknowledgedFailures } from './acknowledge';
import { failureLookup } from './failures';
import { freezeImports, freezeState, resumeImports } from './freeze';
import { restoreApply, restorePreview, type RestoreEngines, type RestorePlan } from './restore';

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
  /** The staging engine, the verifier and the trust policy, given by the composition root. */
  services: RunbookServices;
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

function latestAudit(db: Db, actions: string[], filter?: (r: AuditPick) => boolean): AuditPick | null {
  if (!filter) {
    const r = latestAuditRow(db, actions);
    return r ? { id: r.id, ts: r.ts, action: r.action, subject: r.subject, details: r.details } : null;
  }
  for (const r of findAudit(db, { actions, newestFirst: true, limit: 500 })) if (filter(r)) return { id: r.id, ts: r.ts, action: r.action, subject: r.subject, details: r.details };
  return null;
}

/** Audit actions of mirror imports (Trivy installs and console verifications are not imports of the mirror). */
export const MIRROR_IMPORT_OK = ['mirror.bundle.imported', 'mirror.delta.applied'];
export const MIRROR_IMPORT_FAILED = ['mirror.delta.apply_failed', 'mirror.full.apply_failed', 'mirror.verify.failed', 'mirror.import.refused'];
/** A failure row written by an import (not a stand-alone verification from the console or a checklist). */
function isImportFailure(r: AuditPick): boolean {
  if (r.action !== 'mirror.verify.failed') return true;
  const src = r.details.source;
  return src === undefined || src === 'import';
}

/**
 * Bytes of the regular files below `dir`, each inode counted once across calls that share `seen`
 * (a kept generation hard-links its unchanged files: they use the space once). The walk yields to
 * the event loop every `slice` entries: a health refresh in the desktop app keeps its main process
 * answering while every file of every kept generation is looked at (one blocking walk held it ~3 s
 * at 100,000 files × 3 generations). Synchronous calls in between: promise-based lstat was twice as
 * slow here (300,000 entries: ~10–13 s against ~4.3–5.7 s) and held twice the memory.
 */
export async function treeBytes(dir: string, seen: Set<string> = new Set(), slice = 2000): Promise<number> {
  let total = 0;
  let sinceYield = 0;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue; // not there (or not a folder)
    }
    for (const n of names) {
      if (++sinceYield >= slice) {
        sinceYield = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const p = join(d, n);
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue; // gone meanwhile
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

/**
 * Bytes held in staging/: the kept generations' trees and .meta folders from
 * what their builds recorded (ledgerBytes: no file looked at), plus
 * a walk of anything else there (what a crash left before the next start
 * tidies it, a file put there by hand). Every file of every generation is
 * walked instead when `walk` is asked for or a kept generation predates the
 * figures: ~3 s at 100,000 files x 3 generations, ~30 s at a million.
 */
export async function stagingBytes(ws: Workspace, db: Db, seen: Set<string>, walk = false): Promise<{ bytes: number; measure: 'ledger' | 'walk' }> {
  const kept = listGenerations(db);
  const ledger = walk ? null : ledgerBytes(kept);
  if (ledger === null) return { bytes: await treeBytes(ws.layout.staging, seen), measure: 'walk' };
  const known = new Set(['current']);
  for (const g of kept) {
    known.add(generationName(g.seq));
    known.add(`${generationName(g.seq)}.meta`);
  }
  let other = 0;
  let names: string[] = [];
  try {
    names = readdirSync(ws.layout.staging);
  } catch {
    /* no staging folder: nothing held */
  }
  for (const n of names) if (!known.has(n)) other += await treeBytes(join(ws.layout.staging, n), seen);
  return { bytes: ledger + other, measure: 'ledger' };
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

function noVerifier(path: string): CheckResult {
  return { status: 'unknown', summary: 'The verifier is not available in this build, so nothing could be verified.', evidence: { path, available: false } };
}

function errorResult(e: unknown, what: string): CheckResult {
  const s = toErrorShape(e);
  return { status: 'fail', summary: `${what} failed [${s.code}]: ${s.message}${s.action ? ` What to do: ${s.action}` : ''}`, evidence: { error: s } };
}

function resolveInputPath(ctx: CheckContext, p: string): string {
  return isAbsolute(p) ? p : resolve(ctx.ws.dir, p);
}

/** Tenants of data this workspace has seen: staging generations (kept or pruned) and the chain. */
function tenantsSeen(db: Db): string[] {
  const set = new Set<string>();
  for (const g of listGenerations(db, { includePruned: true })) set.add(g.tenant);
  const chain = readState(db).chain_tenant;
  if (chain) set.add(chain);
  return [...set].sort();
}

function libraryEntries(db: Db): LibraryRow[] {
  return listLibrary(db);
}

/**
 * A kit's manifest, read only once verified: its signature is checked with
 * the keys the trust policy gives (the given tenant's, else every pinned key),
 * and only then is the verified tenant compared: a kit signed only by a key
 * pinned for another tenant is refused (ERR_VERIFY_SIGNATURE). The caller
 * compares the verified tenant with the one asked for.
 */
function verifiedKit(ctx: CheckContext, dir: string, tenant: string | undefined): ReturnType<typeof readKitManifest> {
  const keys = ctx.services.trust(ctx.db, { tenant }).keys;
  const kit = readKitManifest(dir, keys);
  const signers = keys.filter((k) => kit.signedBy.includes(k.fingerprint));
  if (!signers.some((k) => k.source !== 'workspace' || k.tenant === undefined || k.tenant === kit.tenant)) {
    throw new OpsError('ERR_VERIFY_SIGNATURE', `The kit manifest in ${dir} (tenant ${kit.tenant}) is signed only by key(s) pinned for another tenant (${signers.map((k) => `${k.tenant}/${k.fingerprint}`).join(', ')}): a key counts for its own tenant only.`, { path: dir });
  }
  return kit;
}

/**
 * The standby's database, read without touching the standby: its files
 * (database and write-ahead log) are copied to a private temporary folder and
 * the copy is opened, so no folder, -wal/-shm file or schema upgrade is ever
 * written into the standby workspace (the check is read-only). Null when the
 * standby has no database.
 */
function standbySnapshot(standbyDir: string): { db: Db; close: () => void } | null {
  const file = workspaceLayout(standbyDir).db;
  if (!existsSync(file)) return null;
  const dir = mkdtempSync(join(tmpdir(), 'okc-standby-'));
  const done = () => rmSync(dir, { recursive: true, force: true });
  try {
    const copy = join(dir, basename(file));
    copyFileSync(file, copy);
    if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, `${copy}-wal`);
    const db = openDatabase(copy);
    return {
      db,
      close: () => {
        db.close();
        done();
      },
    };
  } catch (e) {
    done();
    throw e;
  }
}

/** The keys a restore verifies with: the trust policy's, for the chain tenant only. */
function chainKeys(ctx: CheckContext): TrustedKey[] {
  return ctx.services.trust(ctx.db, { tenant: readState(ctx.db).chain_tenant ?? undefined }).keys;
}

/** The engines a restore drives (null when this build lacks one). */
function restoreEngines(ctx: CheckContext): RestoreEngines | null {
  const { staging, verify } = ctx.services;
  return staging && verify ? { staging, verify } : null;
}

function restoreSummary(plan: RestorePlan): string {
  const offers = plan.offers.map((o) => (o.kind === 'rollback' ? `${o.text} (${o.command})` : o.text));
  return `${plan.message}${offers.length ? ` What is still possible: ${offers.join(' Or: ')}` : ''}`;
}

/** A verification failure found by a checklist step (8.1, 8.2, 4.2): counted and logged like any other. */
function recordCheckFailure(ctx: CheckContext, v: Verdict, path: string): void {
  if (v.ok) return;
  const code = v.code ?? 'ERR_BUNDLE_CORRUPT';
  const trivy = v.kind === 'trivy-db' || v.kind === 'trivy-java-db';
  const event = trivy ? 'trivy.verify.failed' : 'mirror.verify.failed';
  try {
    appendAudit(ctx.db, { action: event, subject: v.exportId ?? path, operator: ctx.operator, details: { path, kind: v.kind, errorCode: code, message: v.message, signedBy: v.keys?.signedBy ?? [], source: 'checklist', runId: ctx.runId ?? null } });
  } catch {
    /* the step's own row records it too */
  }
  logEvent(ctx.ws, { event, level: 'error', errorCode: code, message: v.message, path, runId: ctx.runId });
  bumpCounter(ctx.ws, 'verify_failures_total', { error_code: code });
}

export const CHECKS: Record<string, CheckDef> = {
  'staging.verify': {
    description: 'Re-reads the staging tree and checks it against the signed state of the current export (mirror verify of the workspace).',
    async run(ctx) {
      const staging = ctx.services.staging;
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
      const last = latestAudit(ctx.db, [...MIRROR_IMPORT_OK, ...MIRROR_IMPORT_FAILED], (r) => (MIRROR_IMPORT_OK.includes(r.action) ? r.subject !== 'trivy-db' && r.subject !== 'trivy-java-db' && !String(r.details.kind ?? '').startsWith('trivy') : isImportFailure(r) && !String(r.details.kind ?? '').startsWith('trivy')));
      if (!last) return { status: 'warn', summary: 'No mirror import has been recorded in this workspace yet.', evidence: {} };
      const lastOk = latestAudit(ctx.db, MIRROR_IMPORT_OK, (r) => r.subject !== 'trivy-db' && r.subject !== 'trivy-java-db' && !String(r.details.kind ?? '').startsWith('trivy'));
      const evidence = { last, lastSuccessful: lastOk };
      if (MIRROR_IMPORT_FAILED.includes(last.action)) {
        const code = String(last.details.errorCode ?? 'unknown');
        const advice = isErrorCode(code) ? runbookAdvice(code) : undefined;
        return {
          status: 'fail',
          summary: `The last mirror import (${last.subject}, ${last.ts}) failed${last.action === 'mirror.verify.failed' ? ' verification' : ''} with ${code}.${advice ? ` What to do: ${advice.action}` : ''}`,
          evidence: { ...evidence, advice: advice ?? null },
        };
      }
      return { status: 'pass', summary: `The last import ${last.subject} (${last.action}) at ${last.ts} verified and applied.`, evidence };
    },
  },

  'storage.capacity': {
    description: 'Bytes held by staging and the library against the capacity thresholds, and free space on the workspace volume (staging from what each build recorded; params.walk: look at every file).',
    async run(ctx) {
      const cap = ctx.settings.capacity;
      const seen = new Set<string>();
      const { bytes: staging, measure } = await stagingBytes(ctx.ws, ctx.db, seen, ctx.params.walk === true);
      const library = await treeBytes(ctx.ws.layout.library, seen);
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
      return { status, summary, evidence: { stagingBytes: staging, stagingMeasure: measure, libraryBytes: library, usedBytes: used, freeBytes: free, thresholds: { warnBytes: fw, failBytes: ff, warnFreeBytes: fwf, failFreeBytes: fff } } };
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
      const gens = listGenerations(ctx.db, { includePruned: true }).sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
      const g0 = gens[0];
      const newest = g0 ? { export_id: g0.export_id, generation: g0.generation, created_at: g0.created_at, applied_at: g0.applied_at } : undefined;
      if (!newest) return { status: 'unknown', summary: 'No export has been applied yet, so data freshness is unknown.', evidence: { stalenessHours: budget } };
      // The latest instant this host has already seen: data timestamps and our own records.
      const seenCandidates = [newest.created_at, newest.applied_at];
      for (const l of listLibrary(ctx.db, { includePruned: true })) if (l.created_at) seenCandidates.push(l.created_at);
      const auditMax = findAudit(ctx.db, { newestFirst: true, limit: 1 })[0]?.ts;
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
    description: 'Scans the local logs for adapter.trivy.unsupported_schema_version and failed applies or verifications not yet acknowledged by an operator (failures stay visible until acknowledged: mirror checklist acknowledge --reason).',
    run(ctx) {
      const events = Array.isArray(ctx.params.events) ? (ctx.params.events as string[]) : FAILURE_EVENTS;
      const u = unacknowledgedFailures(ctx.ws, ctx.db, { events, now: ctx.now });
      const evidence = { since: u.since, acknowledgedBy: u.acknowledgement, until: ctx.now.toISOString(), events, counts: u.counts, matches: u.lines.slice(-20) };
      if (u.lines.length === 0) return { status: 'pass', summary: `No ${events.join(' or ')} in the logs ${u.since ? `since the last acknowledgement (${u.since})` : '(all logs)'}.`, evidence };
      const parts = Object.entries(u.counts).map(([k, v]) => `${v} × ${k}`);
      return { status: 'fail', summary: `Found ${parts.join(', ')} ${u.since ? `since the last acknowledgement (${u.since})` : 'in the logs'}${u.codes.length ? ` (error codes: ${u.codes.join(', ')})` : ''}, not yet acknowledged. See the failure table (mirror checklist advice <code>); once handled, acknowledge with a reason: mirror checklist acknowledge --reason "…".`, evidence: { ...evidence, codes: u.codes } };
    },
  },

  'keys.tenants': {
    description: 'A trusted key is pinned for every tenant seen in the library and staging.',
    run(ctx) {
      const tenants = tenantsSeen(ctx.db);
      // The keys the trust policy gives each tenant (a trust store that does not match the audit log gives none).
      let byTenant: Record<string, string[]>;
      let any: TrustedKey[];
      try {
        byTenant = Object.fromEntries(tenants.map((t) => [t, ctx.services.trust(ctx.db, { tenant: t }).keys.map((k) => k.fingerprint)]));
        any = tenants.length ? [] : ctx.services.trust(ctx.db).keys;
      } catch (e) {
        return errorResult(e, 'Reading the trusted keys');
      }
      const missing = tenants.filter((t) => byTenant[t].length === 0);
      if (tenants.length === 0) {
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
        if (!existsSync(join(dir, 'offline-manifest.json'))) return { status: 'fail', summary: `${dir} is not an offline kit (offline-manifest.json is missing).`, evidence: { kit: dir } };
        try {
          // Only the verified manifest is read (its signature with the keys the trust policy gives).
          const tenant = str(ctx.params.tenant);
          const kit = verifiedKit(ctx, dir, tenant);
          if (tenant && kit.tenant !== tenant) return { status: 'fail', summary: `The kit in ${dir} is for tenant ${kit.tenant}, not ${tenant}.`, evidence: { kit: dir } };
          entries = kit.entries.map((e) => ({ path: e.path, kind: e.kind, generation: typeof e.generation === 'number' ? e.generation : null, exportId: e.exportId ?? null }));
          for (const e of entries) if (!existsSync(join(dir, e.path))) return { status: 'fail', summary: `The kit lists ${e.path}, but the file is missing.`, evidence: { kit: dir, missing: e.path } };
        } catch (e) {
          const err = toErrorShape(e);
          return { status: 'fail', summary: `The kit manifest in ${dir} does not verify [${err.code}]: ${err.message}`, evidence: { kit: dir, error: err } };
        }
        source = `The kit ${dir}`;
      } else {
        entries = libraryEntries(ctx.db).map((e) => ({ path: e.file, kind: e.kind, generation: e.generation, exportId: e.export_id }));
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
      let keys: TrustedKey[];
      try {
        keys = ctx.services.trust(ctx.db, { tenant }).keys;
      } catch (e) {
        return errorResult(e, `Verification of ${basename(path)}`);
      }
      if (keys.length === 0) return { status: 'fail', summary: `No trusted key${tenant ? ` for tenant ${tenant}` : ''}: import the Export Center key first (mirror keys add).`, evidence: { path } };
      try {
        const engine = ctx.services.verify;
        if (!engine) return noVerifier(path);
        const v = await engine.verifyPath(path, { keys, identities: ctx.identities, signal: ctx.signal });
        recordCheckFailure(ctx, v, path);
        return verdictResult(v, basename(path));
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
      const sig = str(ctx.params.signature);
      const engine = ctx.services.verify;
      if (!engine) return noVerifier(path);
      try {
        const keys = ctx.services.trust(ctx.db, { tenant: str(ctx.params.tenant) }).keys;
        const v = await engine.verifyTrivyBundle(path, { keys, signature: sig ? resolveInputPath(ctx, sig) : undefined, signal: ctx.signal });
        recordCheckFailure(ctx, v, path);
        return verdictResult(v, basename(path));
      } catch (e) {
        return errorResult(e, `Verification of ${basename(path)}`);
      }
    },
  },

  'bundles.verify_recent': {
    description: 'Re-verifies the most recent library bundle of each profile (signatures, content, the library digest) and the library copy of each installed Trivy database (its digest against the verified import) (runbook 4.2: verify a recent run for each profile).',
    async run(ctx) {
      const lib = new Map(listLibrary(ctx.db).map((l) => [l.sha256, l]));
      const perProfile = new Map<string, { tenant: string; exportId: string; generation: number; lib: LibraryRow }>();
      for (const g of listGenerations(ctx.db, { includePruned: true }).sort((a, b) => b.generation - a.generation || b.seq - a.seq)) {
        const l = g.library_sha256 ? lib.get(g.library_sha256) : undefined;
        if (l && !perProfile.has(`${g.tenant}/${g.profile_id}`)) perProfile.set(`${g.tenant}/${g.profile_id}`, { tenant: g.tenant, exportId: g.export_id, generation: g.generation, lib: l });
      }
      const trivy = new Map<string, LibraryRow>();
      for (const l of [...lib.values()].filter((x) => x.kind === 'trivy-db' || x.kind === 'trivy-java-db').sort((a, b) => b.imported_at.localeCompare(a.imported_at))) if (!trivy.has(l.kind)) trivy.set(l.kind, l);
      if (perProfile.size === 0 && trivy.size === 0) return { status: 'warn', summary: 'The library holds no bundle yet: nothing to verify.', evidence: {} };
      const engine = ctx.services.verify;
      if (!engine) return noVerifier(ctx.ws.layout.library);
      let status: CheckStatus = 'pass';
      const results: Record<string, unknown>[] = [];
      for (const [profile, r] of perProfile) {
        const file = resolve(ctx.ws.dir, r.lib.file);
        try {
          const res = await engine.verifyMirrorBundle(file, { keys: ctx.services.trust(ctx.db, { tenant: r.tenant }).keys, identities: ctx.identities, signal: ctx.signal });
          let v = verdictResult(res.verdict, `${profile} ${r.exportId}`);
          if (res.verdict.ok && res.rawSha256 && res.rawSha256 !== r.lib.sha256) v = { status: 'fail', summary: `${profile} ${r.exportId}: the library copy's sha256 ${res.rawSha256} is not the ${r.lib.sha256} it was imported with [ERR_VERIFY_DIGEST].`, evidence: {} };
          else recordCheckFailure(ctx, res.verdict, file);
          status = worst(status, v.status);
          results.push({ profile, exportId: r.exportId, generation: r.generation, file, status: v.status, summary: v.summary });
        } catch (e) {
          status = 'fail';
          results.push({ profile, exportId: r.exportId, file, status: 'fail', summary: toErrorShape(e).message });
        }
      }
      for (const [kind, l] of trivy) {
        const file = resolve(ctx.ws.dir, l.file);
        let summary: string;
        let st: CheckStatus;
        try {
          const got = await sha256File(file, ctx.signal);
          if (got === l.sha256) {
            st = 'pass';
            summary = `${kind} ${l.name}: the library copy matches the bundle verified at import (sha256 ${l.sha256}).`;
          } else {
            st = 'fail';
            summary = `${kind} ${l.name}: the library copy changed since it verified at import (sha256 ${got}, expected ${l.sha256}) [ERR_VERIFY_DIGEST]. Copy the Trivy bundle again from the media and import it.`;
            logEvent(ctx.ws, { event: 'trivy.verify.failed', level: 'error', errorCode: 'ERR_VERIFY_DIGEST', message: summary, path: file, runId: ctx.runId });
            bumpCounter(ctx.ws, 'verify_failures_total', { error_code: 'ERR_VERIFY_DIGEST' });
          }
        } catch (e) {
          st = 'fail';
          summary = `${kind} ${l.name}: the library copy cannot be read (${toErrorShape(e).message}).`;
        }
        status = worst(status, st);
        results.push({ profile: kind, file, sha256: l.sha256, status: st, summary });
      }
      return { status, summary: results.map((r) => r.summary).join(' '), evidence: { results } };
    },
  },

  'evidence.capture_manifests': {
    description: 'Copies export.json and manifest.yaml of a verified bundle (default: the newest in the library) into the evidence folder (runbook 4.3); only bytes from the verified read are written.',
    async run(ctx) {
      let p = str(ctx.params.path);
      let tenant = str(ctx.params.tenant);
      let expectSha: string | undefined;
      if (p && existsSync(resolveInputPath(ctx, p)) && lstatSync(resolveInputPath(ctx, p)).isDirectory()) {
        // A kit: its newest mirror bundle, from the verified kit manifest.
        const dir = resolveInputPath(ctx, p);
        try {
          const kit = verifiedKit(ctx, dir, tenant);
          if (tenant && kit.tenant !== tenant) return { status: 'fail', summary: `The kit in ${dir} is for tenant ${kit.tenant}, not ${tenant}.`, evidence: {} };
          const newest = kit.entries.filter((e) => e.kind.startsWith('mirror-')).sort((a, b) => (b.generation ?? 0) - (a.generation ?? 0))[0];
          if (!newest) return { status: 'fail', summary: `The kit ${dir} holds no mirror bundle.`, evidence: {} };
          p = join(dir, newest.path);
          expectSha = newest.sha256;
          tenant = tenant ?? kit.tenant;
        } catch (e) {
          const err = toErrorShape(e);
          return { status: 'fail', summary: `The kit manifest in ${dir} does not verify [${err.code}]: ${err.message}`, evidence: { error: err } };
        }
      }
      if (!p) {
        const lib = libraryEntries(ctx.db).filter((e) => e.kind.startsWith('mirror-') && e.generation !== null).sort((a, b) => b.generation! - a.generation!)[0];
        if (!lib) return { status: 'fail', summary: 'No bundle given and the library holds no mirror bundle.', evidence: {} };
        p = resolve(ctx.ws.dir, lib.file);
        expectSha = lib.sha256;
      }
      const file = resolveInputPath(ctx, p);
      const engine = ctx.services.verify;
      if (!engine) return noVerifier(file);
      let r;
      try {
        const keys = ctx.services.trust(ctx.db, { tenant }).keys;
        r = await engine.verifyMirrorBundle(file, { keys, identities: ctx.identities, signal: ctx.signal });
      } catch (e) {
        return errorResult(e, `Verification of ${basename(file)}`);
      }
      if (!r.verdict.ok || !r.exportJsonBytes) return { ...verdictResult(r.verdict, basename(file)), summary: `Manifests not captured: ${verdictResult(r.verdict, basename(file)).summary}` };
      if (expectSha && r.rawSha256 && r.rawSha256 !== expectSha) return { status: 'fail', summary: `${basename(file)} has sha256 ${r.rawSha256}, not the ${expectSha} its manifest or the library lists [ERR_VERIFY_DIGEST]: not captured.`, evidence: { file } };
      const dir = join(ctx.ws.layout.evidence, ctx.runId ?? 'manifests', (r.verdict.exportId ?? basename(file)).replace(/[^A-Za-z0-9._-]/g, '_'));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'export.json'), r.exportJsonBytes);
      const captured = ['export.json'];
      let status: CheckStatus = 'pass';
      let note = '';
      if (r.manifestYamlBytes) {
        writeFileSync(join(dir, 'manifest.yaml'), r.manifestYamlBytes);
        captured.push('manifest.yaml');
      } else {
        status = 'warn';
        note = ' manifest.yaml was not captured: the verified read did not yield it.';
      }
      return { status, summary: `Captured ${captured.join(' and ')} of ${r.verdict.exportId} (generation ${r.verdict.generation}) into ${dir}.${note}`, evidence: { dir, files: captured.map((f) => join(dir, f)), exportId: r.verdict.exportId, generation: r.verdict.generation, exportJsonSha256: r.exportJsonSha256 } };
    },
  },

  'apply.last_failure': {
    description: 'Finds the last failed apply or verification (runbook 7.1: identify the run and its root cause) and the failure table advice for its code.',
    run(ctx) {
      const failed = latestAudit(ctx.db, MIRROR_IMPORT_FAILED.filter((a) => a !== 'mirror.import.refused'), (r) => isImportFailure(r) && !String(r.details.kind ?? '').startsWith('trivy'));
      if (!failed) return { status: 'pass', summary: 'No failed apply is recorded: nothing to replay.', evidence: { found: false } };
      const laterRow = findAudit(ctx.db, { actions: MIRROR_IMPORT_OK, afterId: failed.id, limit: 50 }).find((r) => r.subject !== 'trivy-db' && r.subject !== 'trivy-java-db');
      const later = laterRow ? { id: laterRow.id, ts: laterRow.ts, subject: laterRow.subject } : undefined;
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
    description: 'Locates the last full bundle in the library and the deltas after it, up to the first gap (runbook 7.2); reads no bundle.',
    async run(ctx) {
      const plan = await restorePreview(ctx.ws, ctx.db, { keys: [], verify: false, engines: null });
      const evidence = { plan, files: plan.bundles.map((b) => b.file) };
      if (!plan.ok) return { status: 'fail', summary: restoreSummary(plan), evidence };
      if (plan.gaps.length) return { status: 'warn', summary: `${plan.message} Deltas for generation(s) ${plan.gaps.join(', ')} are missing, so the restore stops at generation ${plan.target!.generation}.`, evidence };
      return { status: 'pass', summary: `${plan.message} Staging is now at ${plan.current ? `generation ${plan.current.generation} (${plan.current.exportId})` : 'nothing'}.`, evidence };
    },
  },

  'restore.verify_chain': {
    description: 'Verifies every bundle of the restore chain (signatures, content, the library copy\'s digest) before anything is switched; a bad bundle blocks the run, names the bundle and what is still possible (runbook 7.2).',
    async run(ctx) {
      let keys: TrustedKey[];
      try {
        keys = chainKeys(ctx);
      } catch (e) {
        return errorResult(e, 'Verifying the restore chain');
      }
      const engines = restoreEngines(ctx);
      if (!engines) return { status: 'unknown', summary: 'The staging engine or the verifier is not available in this build: the restore chain cannot be verified.', evidence: { available: false } };
      const plan = await restorePreview(ctx.ws, ctx.db, { keys, identities: ctx.identities, signal: ctx.signal, engines });
      const evidence = { plan };
      if (plan.bad) {
        logEvent(ctx.ws, { event: 'mirror.verify.failed', level: 'error', errorCode: plan.bad.code ?? undefined, message: plan.message, path: plan.bad.file, runId: ctx.runId });
        bumpCounter(ctx.ws, 'verify_failures_total', { error_code: plan.bad.code ?? 'ERR_BUNDLE_CORRUPT' });
      }
      if (!plan.ok) return { status: 'fail', summary: restoreSummary(plan), evidence };
      return { status: 'pass', summary: plan.message, evidence };
    },
  },

  'restore.verify_full': {
    description: 'Verifies every bundle of the restore chain (kept for procedure files written before restore.verify_chain).',
    run(ctx) {
      return CHECKS['restore.verify_chain'].run(ctx);
    },
  },

  'restore.apply_chain': {
    description: 'Rebuilds staging from the library chain, all or nothing: every bundle is verified and extracted first (in the same read), and staging switches only when the whole chain up to the target verified; otherwise it stays exactly where it was (forced over the generation rule, with the written reason).',
    mutates: true,
    async run(ctx) {
      const reason = str(ctx.params.reason) ?? `runbook 7.2 restore from the previous full bundle (checklist run ${ctx.runId ?? '?'})`;
      const frozen = freezeState(ctx.db);
      if (frozen.frozen) return { status: 'fail', summary: `Imports are frozen since ${frozen.since} (${frozen.reason}); the restore cannot import. Resume imports first (runbook 7.3).`, evidence: { frozen } };
      const engines = restoreEngines(ctx);
      if (!engines) return { status: 'unknown', summary: 'The staging engine or the verifier is not available in this build: the restore cannot run.', evidence: { available: false } };
      try {
        const r = await restoreApply(ctx.ws, ctx.db, { reason, operator: ctx.operator, keys: chainKeys(ctx), identities: ctx.identities, signal: ctx.signal, engines });
        const evidence = { ok: r.ok, code: r.code, message: r.message, plan: r.plan, items: r.import?.items.map((i) => ({ path: i.path, outcome: i.outcome, code: i.code, exportId: i.exportId, generation: i.generation, message: i.message })) ?? [], current: r.current };
        if (!r.ok) return { status: 'fail', summary: `Restore refused [${r.code}]: ${restoreSummary(r.plan)}`, evidence };
        return { status: 'pass', summary: r.message, evidence };
      } catch (e) {
        return errorResult(e, 'Restore');
      }
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
        const s = freezeImports(ctx.ws, ctx.db, reason, ctx.operator, { runId: ctx.runId });
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
        resumeImports(ctx.ws, ctx.db, reason, ctx.operator, { runId: ctx.runId });
        return { status: 'pass', summary: `Imports resumed (frozen since ${cur.since}): ${reason}.`, evidence: { frozenSince: cur.since, frozenReason: cur.reason, reason } };
      } catch (e) {
        return errorResult(e, 'Resuming imports');
      }
    },
  },

  'retention.preview': {
    description: 'Shows what retention would prune now and what it keeps, and why (runbook 5.2; changes nothing).',
    run(ctx) {
      const plan = planRetention(ctx.ws, ctx.db, ctx.now);
      const bytes = plan.prune.reduce((n, p) => n + p.size, 0);
      const evidence = { prune: plan.prune, keep: plan.keep, freedBytes: bytes, policy: ctx.settings.retention };
      return { status: 'pass', summary: `Retention would prune ${plan.prune.length} file(s) (${fmt(bytes)}) and keep ${plan.keep.length}${plan.prune.length ? `: ${plan.prune.slice(0, 5).map((p) => `${p.file} (${p.reason})`).join('; ')}${plan.prune.length > 5 ? '; …' : ''}` : ''}.`, evidence };
    },
  },

  'retention.prune': {
    description: 'Runs retention (runbook 5.2): prunes what the confirmed preview showed, never what the current generation needs; every file and the run are audited.',
    mutates: true,
    run(ctx) {
      let s;
      try {
        s = openForWrite(ctx.ws, 'checklist: retention');
      } catch (e) {
        return errorResult(e, 'Retention');
      }
      try {
        const r = runRetention(s.ws, s.db, { operator: ctx.operator, now: ctx.now });
        const previewed = ((ctx.previous['preview']?.prune as { sha256: string }[] | undefined) ?? []).map((p) => p.sha256);
        const extra = r.pruned.filter((p) => !previewed.includes(p.sha256));
        const evidence = { pruned: r.pruned, kept: r.kept.length, freedBytes: r.freedBytes, ranAt: r.ranAt, notInPreview: extra.map((p) => p.file) };
        if (extra.length) return { status: 'warn', summary: `Pruned ${r.pruned.length} file(s) (${fmt(r.freedBytes)}); ${extra.length} of them were not in the preview (the library changed since): ${extra.map((p) => p.file).join(', ')}.`, evidence };
        return { status: 'pass', summary: `Pruned ${r.pruned.length} file(s) (${fmt(r.freedBytes)}), kept ${r.kept.length}; recorded as retention.run.`, evidence };
      } catch (e) {
        return errorResult(e, 'Retention');
      } finally {
        s.close();
      }
    },
  },

  'retention.metrics': {
    description: 'Reads the retention metrics (okc_retention_pruned_total, okc_library_bytes) and the last retention run (runbook 3 / 5.2: pruning should show in the metrics).',
    run(ctx) {
      const pruned = ['mirror-full', 'mirror-delta', 'trivy-db', 'trivy-java-db'].reduce((n, k) => n + metricValue(ctx.ws, 'retention_pruned_total', { kind: k }), 0);
      const library = metricValue(ctx.ws, 'library_bytes', {});
      const last = latestAudit(ctx.db, ['retention.run']);
      const evidence = { okc_retention_pruned_total: pruned, okc_library_bytes: library, lastRun: last };
      if (!last) return { status: 'fail', summary: 'No retention run is recorded (ExportCenterRetentionStale).', evidence };
      return { status: 'pass', summary: `Last retention run ${last.ts}; okc_retention_pruned_total = ${pruned}; library ${fmt(library)}.`, evidence };
    },
  },

  'change.record': {
    description: 'Records a change (runbook 9): what, why, approver, and the audit rows it covers (given ids, else the key and settings changes since the previous change record), as one audit row (change.recorded).',
    mutates: true,
    run(ctx) {
      const what = str(ctx.params.what);
      const why = str(ctx.params.why);
      const approver = str(ctx.params.approver);
      const missing = [!what && 'what', !why && 'why', !approver && 'approver'].filter(Boolean);
      if (missing.length) return { status: 'fail', summary: `A change record needs ${missing.join(', ')} (run inputs).`, evidence: {} };
      let ids: number[];
      const given = str(ctx.params.auditRows);
      if (given) {
        ids = given.split(/[\s,]+/).filter(Boolean).map(Number);
        if (ids.some((n) => !Number.isInteger(n) || n <= 0)) return { status: 'fail', summary: `auditRows must be audit row ids separated by commas, got "${given}".`, evidence: {} };
        const found = new Set(findAudit(ctx.db, { afterId: Math.min(...ids) - 1, limit: 100_000 }).filter((r) => ids.includes(r.id)).map((r) => r.id));
        const unknown = ids.filter((n) => !found.has(n));
        if (unknown.length) return { status: 'fail', summary: `Audit row(s) ${unknown.join(', ')} do not exist in this workspace (mirror audit list).`, evidence: {} };
      } else {
        const prev = latestAudit(ctx.db, ['change.recorded']);
        ids = findAudit(ctx.db, { actions: ['keys.added', 'keys.rotated', 'keys.revoked', 'settings.changed', 'imports.frozen', 'imports.resumed'], afterId: prev?.id ?? 0 }).map((r) => r.id);
      }
      const row = appendAudit(ctx.db, { action: 'change.recorded', subject: what!, operator: ctx.operator, details: { what, why, approver, auditRows: ids, runId: ctx.runId ?? null } });
      return { status: 'pass', summary: `Change recorded (audit row ${row.id}): ${what}; why: ${why}; approved by ${approver}; covers audit row(s) ${ids.join(', ') || 'none'}.`, evidence: { auditId: row.id, what, why, approver, auditRows: ids } };
    },
  },

  'standby.ready': {
    description: 'Worker failover, offline counterpart (runbook 4.2): the standby workspace (input "standby") opens, its audit chain verifies and it holds the same export and state digest as this one, so it can take over.',
    async run(ctx) {
      const dir = str(ctx.params.standby);
      if (!dir) return { status: 'unknown', summary: 'No standby workspace was given (input "standby"): failover cannot be checked. If this host has a standby, start the checklist with --input standby=<its workspace folder>.', evidence: {} };
      const path = resolveInputPath(ctx, dir);
      if (!existsSync(join(path, 'workspace.json'))) return { status: 'fail', summary: `${path} is not a console workspace (no workspace.json).`, evidence: { standby: path } };
      try {
        const snap = standbySnapshot(path);
        if (!snap) return { status: 'fail', summary: `${path} holds no workspace database (${workspaceLayout(path).db} is missing): it cannot take over.`, evidence: { standby: path } };
        const sdb = snap.db;
        try {
          const chain = verifyAuditChain(sdb);
          const mine = listGenerations(ctx.db).find((g) => g.seq === readState(ctx.db).current_seq) ?? null;
          const st = readState(sdb);
          const theirs = listGenerations(sdb).find((g) => g.seq === st.current_seq) ?? null;
          const evidence = { standby: path, chainOk: chain.ok, primary: mine && { exportId: mine.export_id, generation: mine.generation, stateDigest: mine.state_digest }, standbyCurrent: theirs && { exportId: theirs.export_id, generation: theirs.generation, stateDigest: theirs.state_digest } };
          if (!chain.ok) return { status: 'fail', summary: `The standby's audit chain does not verify: ${chain.message}`, evidence };
          if (!theirs) return { status: 'fail', summary: 'The standby workspace holds no staged export: it cannot take over.', evidence };
          if (!mine || theirs.state_digest !== mine.state_digest) return { status: 'warn', summary: `The standby holds ${theirs.export_id} (generation ${theirs.generation}), this host ${mine ? `${mine.export_id} (generation ${mine.generation})` : 'nothing'}: bring it up to date (import the same kit there).`, evidence };
          return { status: 'pass', summary: `The standby holds the same export ${theirs.export_id} (generation ${theirs.generation}, state ${theirs.state_digest}) and its audit chain verifies: it can take over.`, evidence };
        } finally {
          snap.close();
        }
      } catch (e) {
        return errorResult(e, 'Standby check');
      }
    },
  },

  'imports.catch_up': {
    description: 'Imports the catch-up bundles or kit (input "path") through the staging engine after imports resumed (runbook 7.3).',
    mutates: true,
    async run(ctx) {
      const p = str(ctx.params.path);
      if (!p) return { status: 'fail', summary: 'No catch-up kit or bundle was given (input "catchup"): give it with mirror checklist run <run-id> --input catchup=<kit or bundle>.', evidence: {} };
      const path = resolveInputPath(ctx, p);
      if (!existsSync(path)) return { status: 'fail', summary: `${path} does not exist.`, evidence: { path } };
      return importThrough(ctx, [path], undefined, 'Catch-up import');
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

async function sha256File(file: string, signal?: AbortSignal): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20, signal })) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function importThrough(ctx: CheckContext, files: string[], forceReason: string | undefined, what: string): Promise<CheckResult> {
  const staging = ctx.services.staging;
  if (!staging) return { status: 'unknown', summary: `The staging engine is not available in this build: ${what.toLowerCase()} cannot run.`, evidence: { files } };
  const frozen = freezeState(ctx.db);
  if (frozen.frozen) return { status: 'fail', summary: `Imports are frozen since ${frozen.since} (${frozen.reason}); ${what.toLowerCase()} cannot import. Resume imports first (runbook 7.3).`, evidence: { files, frozen } };
  try {
    const res = await staging.importBundles(ctx.ws, files, { keys: ctx.services.trust(ctx.db).keys, identities: ctx.identities, forceReason, operator: ctx.operator, signal: ctx.signal });
    const evidence = { files, ok: res.ok, code: res.code, message: res.message, items: res.items.map((i) => ({ path: i.path, outcome: i.outcome, code: i.code, exportId: i.exportId, generation: i.generation, message: i.message })), current: res.current ?? null };
    if (!res.ok) return { status: 'fail', summary: `${what} stopped [${res.code}]: ${res.message}`, evidence };
    return { status: 'pass', summary: `${what}: ${res.items.map((i) => `${i.exportId ?? basename(i.path)} ${i.outcome}`).join(', ')}. Staging is at ${res.current ? `${res.current.exportId} (generation ${res.current.generation})` : 'nothing'}.`, evidence };
  } catch (e) {
    return errorResult(e, what);
  }
}
