/**
 * Runbook 7.2, restoring from the previous full bundle, as a service the
 * playbook, the CLI and the app's restore wizard share:
 *
 * - `restorePreview` (read-only): the chain the library holds (the newest full
 *   bundle and the deltas after it, up to the first gap), each bundle verified
 *   (signatures, content, the library copy's own digest), and what is still
 *   possible when one is bad (roll back to a kept generation, copy the bundle
 *   again from the media).
 * - `restoreApply` (with a written reason): builds the new tree aside and
 *   switches only when the whole chain up to the target verified (staging's
 *   all-or-nothing import, which verifies and extracts each bundle in one
 *   read, check-then-use). When it cannot, staging stays exactly where it was
 *   and the result names the bad bundle, its code and the offers.
 *
 * A restore never moves staging backwards: a chain that ends below the
 * current generation is refused (roll back instead, or bring the deltas).
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { OpsError, runbookAdvice, toErrorShape, type ErrorCode } from '../../../shared/errors';
import type { Db } from '../db/index';
import type { JobProgress } from '../../../shared/types';
import { currentGeneration, listGenerations, listLibrary, type ImportResult, type LibraryRow } from '../staging/index';
import type { StagingSeam, VerifySeam } from './services';
import type { TrustedKey } from '../verify/keys';
import type { Workspace } from '../workspace/index';
import type { RestoreBundleView, RestoreOfferView, RestorePlanView } from '../../../shared/contract';

/** The plan's shapes are the contract's (one definition; the IPC adapter passes them through). */
export type RestoreBundle = RestoreBundleView;
export type RestoreOffer = RestoreOfferView;
export type RestorePlan = RestorePlanView;

export interface RestoreEngines {
  staging: StagingSeam;
  verify: VerifySeam;
}

export interface RestoreOptions {
  /**
   * The keys to verify with, from the one trust policy (resolveTrust with the
   * chain tenant's pinned keys; the composition root and the checks pass them).
   * Not read when `verify` is false.
   */
  keys: TrustedKey[];
  /** The staging engine and the verifier, given by the caller (the composition root's services); null only with `verify: false`. */
  engines: RestoreEngines | null;
  identities?: string[];
  signal?: AbortSignal;
  /** Progress of the reads and of the apply (bundle k of n). */
  onProgress?: (p: JobProgress) => void;
  /** false: only locate (no bundle is read). */
  verify?: boolean;
}

export interface RestoreApplyOptions extends RestoreOptions {
  /** Written to the audit log with the forced import (required). */
  reason: string;
  operator?: string;
}

export interface RestoreResult {
  ok: boolean;
  plan: RestorePlan;
  import: ImportResult | null;
  /** Staging after the restore (unchanged when refused). */
  current: { seq: number; exportId: string; generation: number; stateDigest: string } | null;
  code: ErrorCode | null;
  message: string;
}

/** The id of the runbook 7.2 procedure (resources/runbooks/7.2-restore-previous-full.json); retention keeps what its unfinished runs need. */
export const RESTORE_CHECKLIST_ID = 'restore-previous-full';

/** The restore chain in the library: the newest full (or reset-baseline delta), then the deltas after it, in order. */
export function restoreChain(db: Db): { full: LibraryRow | null; deltas: LibraryRow[]; gaps: number[] } {
  const lib = listLibrary(db).filter((e) => e.kind === 'mirror-full' || e.kind === 'mirror-delta');
  const full = lib.filter((e) => (e.kind === 'mirror-full' || e.reset_baseline === 1) && e.generation !== null).sort((a, b) => b.generation! - a.generation!)[0] ?? null;
  if (!full) return { full: null, deltas: [], gaps: [] };
  const byGen = new Map<number, LibraryRow>();
  for (const e of lib) if (e.kind === 'mirror-delta' && e.generation !== null && e.generation > full.generation! && !byGen.has(e.generation)) byGen.set(e.generation, e);
  const deltas: LibraryRow[] = [];
  const gaps: number[] = [];
  const max = Math.max(full.generation!, ...byGen.keys());
  let contiguous = true;
  for (let g = full.generation! + 1; g <= max; g++) {
    const d = byGen.get(g);
    if (d && contiguous) deltas.push(d);
    else if (!d) {
      gaps.push(g);
      contiguous = false;
    }
  }
  return { full, deltas, gaps };
}


function rollbackOffers(ws: Workspace, db: Db): RestoreOffer[] {
  const cur = currentGeneration(db);
  return listGenerations(db)
    .filter((g) => g.seq !== cur?.seq)
    .sort((a, b) => b.generation - a.generation || b.seq - a.seq)
    .map((g) => ({
      kind: 'rollback' as const,
      seq: g.seq,
      generation: g.generation,
      exportId: g.export_id,
      command: `npx --no mirror rollback --workspace ${ws.dir} --to ${g.generation}`,
      text: `Roll back to the kept generation ${g.generation} (${g.export_id}); it is deep-verified before the switch.`,
    }));
}

function needEngines(opts: RestoreOptions): RestoreEngines {
  if (!opts.engines) throw new OpsError('ERR_USAGE', 'The restore needs the staging engine and the verifier, and none was given.');
  return opts.engines;
}

function toBundle(ws: Workspace, e: LibraryRow): RestoreBundle {
  return { file: resolve(ws.dir, e.file), name: e.name, sha256: e.sha256, size: e.size, kind: e.kind, exportId: e.export_id, generation: e.generation, ok: null, code: null, message: null, signedBy: [] };
}

/** Locates the chain and (by default) verifies every bundle of it, read-only. Never changes the workspace. */
export async function restorePreview(ws: Workspace, db: Db, opts: RestoreOptions): Promise<RestorePlan> {
  const chain = restoreChain(db);
  const cur = currentGeneration(db);
  const current = cur ? { seq: cur.seq, exportId: cur.export_id, generation: cur.generation } : null;
  const bundles = chain.full ? [chain.full, ...chain.deltas].map((e) => toBundle(ws, e)) : [];
  const top = bundles[bundles.length - 1];
  const target = top && top.exportId && top.generation !== null ? { exportId: top.exportId, generation: top.generation } : null;
  const base = { current, target, bundles, gaps: chain.gaps };
  const bring: RestoreOffer[] = chain.gaps.length ? [{ kind: 'bring-deltas', generations: chain.gaps, text: `Bring the delta(s) for generation(s) ${chain.gaps.join(', ')} from the media and import them.` }] : [];
  if (!target) {
    return { ...base, ok: false, bad: null, code: 'ERR_EXPORT_BASE_MISSING', message: 'The library holds no full bundle to restore from.', action: 'Bring in the latest full bundle (mirror:full) and import it.', offers: [...rollbackOffers(ws, db)] };
  }
  if (current && target.generation < current.generation) {
    return {
      ...base,
      ok: false,
      bad: null,
      code: 'ERR_EXPORT_BASE_MISSING',
      message: `The library's chain ends at generation ${target.generation} (${target.exportId}), below the current generation ${current.generation}: a restore would move staging backwards. Nothing was changed.`,
      action: 'Roll back to a kept generation, or bring the missing deltas from the media and run the restore again.',
      offers: [...rollbackOffers(ws, db), ...bring],
    };
  }
  for (const b of bundles) {
    if (!existsSync(b.file)) {
      b.ok = false;
      b.code = 'ERR_INPUT_NOT_FOUND';
      b.message = `The library copy ${b.file} is missing.`;
      return badPlan(ws, db, base, b, bring);
    }
  }
  if (opts.verify === false) return { ...base, ok: true, bad: null, code: null, message: `Would rebuild generation ${target.generation} (${target.exportId}) from ${bundles.length} bundle(s).`, action: null, offers: [] };
  const keys = opts.keys;
  const engines = needEngines(opts);
  for (const b of bundles) {
    if (opts.signal?.aborted) throw new OpsError('ERR_CANCELLED', 'Cancelled by the operator. Nothing was changed.');
    try {
      const k = bundles.indexOf(b) + 1;
      const onProgress = opts.onProgress ? (p: JobProgress) => opts.onProgress!({ ...p, bundleIndex: k, bundleCount: bundles.length, bundle: b.name }) : undefined;
      const r = await engines.verify.verifyMirrorBundle(b.file, { keys, identities: opts.identities, signal: opts.signal, onProgress });
      b.signedBy = r.verdict.keys?.signedBy ?? [];
      if (r.verdict.ok && r.rawSha256 && r.rawSha256 !== b.sha256) {
        b.ok = false;
        b.code = 'ERR_VERIFY_DIGEST';
        b.message = `The library copy ${b.name} has sha256 ${r.rawSha256}, not the ${b.sha256} it was stored under.`;
      } else {
        b.ok = r.verdict.ok;
        b.code = r.verdict.ok ? null : (r.verdict.code ?? 'ERR_BUNDLE_CORRUPT');
        b.message = r.verdict.message;
      }
    } catch (e) {
      const s = toErrorShape(e);
      if (s.code === 'ERR_CANCELLED') throw e;
      b.ok = false;
      b.code = s.code;
      b.message = s.message;
    }
    if (!b.ok) return badPlan(ws, db, base, b, bring);
  }
  return {
    ...base,
    ok: true,
    bad: null,
    code: null,
    message: `The chain verifies: ${bundles.length} bundle(s) rebuild generation ${target.generation} (${target.exportId})${chain.gaps.length ? `; generation(s) ${chain.gaps.join(', ')} are missing after it` : ''}.`,
    action: null,
    offers: bring,
  };
}

function badPlan(ws: Workspace, db: Db, base: Pick<RestorePlan, 'current' | 'target' | 'bundles' | 'gaps'>, b: RestoreBundle, bring: RestoreOffer[]): RestorePlan {
  const where = base.current ? `Staging stays at generation ${base.current.generation} (${base.current.exportId}).` : 'Nothing is staged.';
  const recopy: RestoreOffer = {
    kind: 'recopy',
    name: b.name,
    sha256: b.sha256,
    libraryFile: b.file,
    text: `Copy ${b.name} (sha256 ${b.sha256}) again from the removable media to ${b.file}, then run the restore again (it verifies the copy).`,
  };
  return {
    ...base,
    ok: false,
    bad: b,
    code: b.code,
    message: `The library bundle ${b.name} (${b.exportId ?? '?'}, generation ${b.generation ?? '?'}) is bad [${b.code}]: ${b.message} Nothing was restored. ${where}`,
    action: b.code ? (runbookAdvice(b.code)?.action ?? null) : null,
    offers: [recopy, ...rollbackOffers(ws, db), ...bring],
  };
}

/**
 * Rebuilds staging from the library chain: all or nothing. Takes the write
 * lock (through the staging engine); the database handle is only read.
 */
export async function restoreApply(ws: Workspace, db: Db, opts: RestoreApplyOptions): Promise<RestoreResult> {
  const reason = (opts.reason ?? '').trim();
  if (reason.length < 3) throw new OpsError('ERR_USAGE', 'A restore needs a written reason (for example the incident id and what is damaged).');
  // Locate only: the import verifies every bundle in the same read that extracts it.
  const plan = await restorePreview(ws, db, { ...opts, verify: false });
  const before = currentGeneration(db);
  const keep = (code: ErrorCode | null, message: string): RestoreResult => ({
    ok: false,
    plan,
    import: null,
    current: before ? { seq: before.seq, exportId: before.export_id, generation: before.generation, stateDigest: before.state_digest } : null,
    code,
    message,
  });
  if (!plan.ok) return keep(plan.code, plan.message);
  const engines = needEngines(opts);
  const files = plan.bundles.map((b) => b.file);
  const res = await engines.staging.importBundles(ws, files, { keys: opts.keys, identities: opts.identities, forceReason: `${reason} (runbook 7.2 restore)`, operator: opts.operator, signal: opts.signal, onProgress: opts.onProgress, allOrNothing: true });
  if (!res.ok) {
    const refused = res.items.find((i) => i.outcome === 'refused');
    const b = plan.bundles.find((x) => refused && x.file === refused.path) ?? null;
    if (b) {
      b.ok = false;
      b.code = refused!.code;
      b.message = refused!.message;
      const failed = badPlan(ws, db, plan, b, plan.offers);
      Object.assign(plan, { ok: false, bad: failed.bad, code: failed.code, message: failed.message, action: failed.action, offers: failed.offers });
    } else Object.assign(plan, { ok: false, code: res.code, message: res.message, action: res.action });
    const after = currentGeneration(db);
    return { ok: false, plan, import: res, current: after ? { seq: after.seq, exportId: after.export_id, generation: after.generation, stateDigest: after.state_digest } : null, code: res.code, message: plan.message + (res.warnings.length ? ` ${res.warnings.join(' ')}` : '') };
  }
  for (const b of plan.bundles) {
    const it = res.items.find((i) => i.path === b.file);
    b.ok = true;
    b.message = it?.message ?? null;
    b.signedBy = it?.verdict?.keys?.signedBy ?? [];
  }
  Object.assign(plan, { ok: true, message: res.message });
  return { ok: true, plan, import: res, current: res.current, code: null, message: `Restored: ${res.items.map((i) => `${i.exportId ?? basename(i.path)} ${i.outcome}`).join(', ')}. Staging is at ${res.current ? `${res.current.exportId} (generation ${res.current.generation})` : 'nothing'}.` };
}

/** Where a library file lives (for messages). */
export function libraryPath(ws: Workspace, row: LibraryRow): string {
  return join(ws.dir, row.file);
}
