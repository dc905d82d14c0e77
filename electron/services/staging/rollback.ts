/** `mirror rollback`: deep-verify a kept generation, switch to it atomically, audit. */
import { OpsError } from '../../../shared/errors';
import { appendAudit } from '../audit/index';
import type { Db } from '../db/index';
import { logEvent } from '../obs/index';
import type { Workspace } from '../workspace/index';
import { generationName } from '../workspace/layout';
import { hookedFs, type StagingHooks } from './fsops';
import { removeJournal, writeJournal, type RollbackJournal } from './journal';
import { currentGeneration, listGenerations, setCurrent, setLastApply } from './store';
import { switchLink } from './switch';
import { updateGauges } from './apply';
import { verifyGeneration } from './verify-tree';
import type { GenerationRow } from './types';
import type { Verdict } from '../../../shared/types';

export interface RollbackOptions {
  /** Export generation to return to (default: the newest kept generation older than the current one). */
  to?: number;
  reason?: string;
  operator?: string;
  hooks?: StagingHooks;
  signal?: AbortSignal;
  now?: () => Date;
}

export interface RollbackResult {
  from: { seq: number; exportId: string; generation: number } | null;
  to: { seq: number; exportId: string; generation: number; stateDigest: string };
  verdict: Verdict;
}

export function pickRollbackTarget(db: Db, to: number | undefined): GenerationRow {
  const cur = currentGeneration(db);
  const kept = listGenerations(db).filter((g) => g.seq !== cur?.seq);
  const list = kept.map((g) => `${g.generation} (${g.export_id})`).join(', ') || 'none';
  let target: GenerationRow | undefined;
  if (to === undefined) {
    target = kept.filter((g) => !cur || g.generation < cur.generation).sort((a, b) => b.generation - a.generation || b.seq - a.seq)[0];
    if (!target) throw new OpsError('ERR_INPUT_NOT_FOUND', `There is no older kept generation to roll back to (kept besides the current one: ${list}).`, { action: 'Import the full bundle you need with --force-reason, or keep more generations (keepGenerations setting).' });
  } else {
    if (cur && cur.generation === to) throw new OpsError('ERR_USAGE', `Generation ${to} is already the current one (${cur.export_id}).`);
    target = kept.filter((g) => g.generation === to).sort((a, b) => b.seq - a.seq)[0];
    if (!target) throw new OpsError('ERR_INPUT_NOT_FOUND', `Generation ${to} is not kept in this workspace (kept besides the current one: ${list}).`, { action: 'Pick one of the kept generations (mirror status), or import the bundle again with --force-reason.' });
  }
  return target;
}

/** The caller holds the write lock. */
export async function rollback(ws: Workspace, db: Db, opts: RollbackOptions = {}): Promise<RollbackResult> {
  const { fs, cp } = hookedFs(opts.hooks);
  const now = opts.now ?? (() => new Date());
  const cur = currentGeneration(db) ?? null;
  const target = pickRollbackTarget(db, opts.to);
  // Hard-linked generations share inodes: damage to one shows in all, so check before switching.
  const verdict = await verifyGeneration(ws, db, { seq: target.seq, signal: opts.signal });
  if (!verdict.ok) {
    throw new OpsError(verdict.code ?? 'ERR_VERIFY_DIGEST', `Rollback refused: generation ${target.generation} (staging/${generationName(target.seq)}) does not match its signed state. ${verdict.message}`, {
      details: { failures: verdict.failures ?? [] },
    });
  }
  const at = now().toISOString();
  const j: RollbackJournal = {
    op: 'rollback',
    phase: 'switching',
    fromSeq: cur?.seq ?? null,
    toSeq: target.seq,
    startedAt: at,
    audits: [
      {
        action: 'mirror.rollback',
        subject: target.export_id,
        operator: opts.operator,
        details: { fromSeq: cur?.seq ?? null, fromExportId: cur?.export_id ?? null, fromGeneration: cur?.generation ?? null, toSeq: target.seq, toGeneration: target.generation, stateDigest: target.state_digest, reason: opts.reason ?? null },
      },
    ],
  };
  cp('rollback:journal');
  writeJournal(fs, ws.layout, j);
  switchLink(fs, ws.layout.current, generationName(target.seq), cp);
  cp('rollback:db');
  db.transaction(() => {
    setCurrent(db, target.seq);
    setLastApply(db, { ok: true, at, op: 'rollback', exportId: target.export_id, generation: target.generation, seq: target.seq, code: null });
    for (const a of j.audits) appendAudit(db, a);
  })();
  removeJournal(fs, ws.layout);
  logEvent(ws, { event: 'mirror.rollback', exportId: target.export_id, profile: target.profile_id, generation: target.generation, seq: target.seq });
  updateGauges(ws, db, now());
  return {
    from: cur ? { seq: cur.seq, exportId: cur.export_id, generation: cur.generation } : null,
    to: { seq: target.seq, exportId: target.export_id, generation: target.generation, stateDigest: target.state_digest },
    verdict,
  };
}
