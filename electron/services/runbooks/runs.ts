/**
 * Checklist runs: a persisted state machine (not_started → in_progress →
 * blocked ⇄ in_progress → done). Each step's outcome, who did it and when is
 * stored with an audit row (checklist.step.completed) in the same
 * transaction, so a run survives restarts and resumes at the first step not
 * yet completed.
 */
import { randomBytes } from 'node:crypto';
import { OpsError } from '../../../shared/errors';
import type { ChecklistRunView, ChecklistSummary } from '../../../shared/contract';
import type { Settings } from '../../../shared/settings';
import { appendAudit } from '../audit/index';
import type { Db } from '../db/index';
import { logEvent } from '../obs/index';
import type { Workspace } from '../workspace/index';
import { CHECKS, type CheckResult } from './checks';
import type { Procedure, Step } from './schema';
import type { RunbookServices } from './services';

export type RunState = 'not_started' | 'in_progress' | 'blocked' | 'done';
export type StepStatus = 'pending' | 'passed' | 'warned' | 'failed' | 'unknown' | 'confirmed' | 'declined' | 'not_applicable';

/** How a manual step was confirmed: at an interactive prompt (terminal or the app), from an answers file, or in bulk with --yes. */
export type Confirmation = 'prompt' | 'answers-file' | 'yes-flag';

export interface StepRecord {
  position: number;
  stepId: string;
  kind: 'manual' | 'automated';
  title: string;
  status: StepStatus;
  summary: string | null;
  evidence: Record<string, unknown> | null;
  note: string | null;
  actor: string | null;
  completedAt: string | null;
  /** Manual steps: how the operator confirmed it (null for automated or pending steps). */
  confirmation: Confirmation | null;
}

export interface RunRecord {
  id: string;
  checklistId: string;
  title: string;
  section: string;
  state: RunState;
  operator: string;
  startedAt: string;
  updatedAt: string;
  finishedAt: string | null;
  blockedReason: string | null;
  inputs: Record<string, string>;
  steps: StepRecord[];
}

export interface ManualAnswer {
  confirm: boolean;
  note?: string;
  /** The step does not apply here; `note` says why (required). */
  notApplicable?: boolean;
}

/** Answers for manual steps, by step id: true/false, "yes"/"no"/any note text, or {confirm, note}. */
export type Answers = Record<string, boolean | string | ManualAnswer>;

export interface RunEnv {
  ws: Workspace;
  db: Db;
  settings: Settings;
  procedures: Procedure[];
  /** The staging engine, verifier and trust policy the checks use (given by the composition root). */
  services: RunbookServices;
}

export interface AdvanceOptions {
  answers?: Answers;
  /** Confirm every manual step without a specific answer. */
  yes?: boolean;
  /** Asks the operator (a terminal); null = no answer now. */
  prompt?: (step: Step, run: RunRecord) => Promise<ManualAnswer | null>;
  /** Who is doing these steps now (defaults to the run's operator). */
  operator?: string;
  identities?: string[];
  signal?: AbortSignal;
  now?: () => Date;
  onStep?: (step: StepRecord, run: RunRecord) => void;
  /** Complete at most one step, then return (a UI's "complete this step"). */
  singleStep?: boolean;
  /** Where `answers` come from (default: an answers file). The app's confirm button passes 'prompt'. */
  answersVia?: Confirmation;
  /** With singleStep: the operator's reason for an automated step that changes the workspace, recorded as the step's note. */
  stepNote?: string;
}

type RunRow = {
  id: string;
  checklist_id: string;
  title: string;
  section: string;
  state: RunState;
  operator: string;
  started_at: string;
  updated_at: string;
  finished_at: string | null;
  blocked_reason: string | null;
  inputs: string;
};
type StepRow = {
  position: number;
  step_id: string;
  kind: 'manual' | 'automated';
  status: StepStatus;
  summary: string | null;
  evidence: string | null;
  note: string | null;
  actor: string | null;
  completed_at: string | null;
};

const DONE_STATUSES: StepStatus[] = ['passed', 'warned', 'unknown', 'confirmed', 'failed', 'not_applicable'];

export function getRun(db: Db, runId: string, procedures?: Procedure[]): RunRecord {
  const r = db.prepare('SELECT * FROM checklist_runs WHERE id = ?').get(runId) as RunRow | undefined;
  if (!r) throw new OpsError('ERR_INPUT_NOT_FOUND', `No checklist run "${runId}" in this workspace. Run \`mirror checklist status\` to list the runs.`);
  const proc = procedures?.find((p) => p.id === r.checklist_id);
  const steps = (db.prepare('SELECT position, step_id, kind, status, summary, evidence, note, actor, completed_at FROM checklist_steps WHERE run_id = ? ORDER BY position').all(runId) as StepRow[]).map((s) => ({
    position: s.position,
    stepId: s.step_id,
    kind: s.kind,
    title: proc?.steps.find((x) => x.id === s.step_id)?.title ?? s.step_id,
    status: s.status,
    summary: s.summary,
    evidence: s.evidence ? (JSON.parse(s.evidence) as Record<string, unknown>) : null,
    note: s.note,
    actor: s.actor,
    completedAt: s.completed_at,
    confirmation: null as Confirmation | null,
  })).map((x) => ({ ...x, confirmation: (x.evidence?.confirmation as Confirmation | undefined) ?? null }));
  return {
    id: r.id,
    checklistId: r.checklist_id,
    title: r.title,
    section: r.section,
    state: r.state,
    operator: r.operator,
    startedAt: r.started_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
    blockedReason: r.blocked_reason,
    inputs: JSON.parse(r.inputs) as Record<string, string>,
    steps,
  };
}

export function listRuns(db: Db, opts: { checklistId?: string; unfinished?: boolean; limit?: number } = {}): RunRecord[] {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (opts.checklistId) {
    where.push('checklist_id = ?');
    args.push(opts.checklistId);
  }
  if (opts.unfinished) where.push("state <> 'done'");
  const ids = db.prepare(`SELECT id FROM checklist_runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, id DESC LIMIT ?`).all(...args, opts.limit ?? 50) as { id: string }[];
  return ids.map((r) => getRun(db, r.id));
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** Creates a run (not_started) with one pending row per step. Required inputs must be given. */
export function createRun(db: Db, proc: Procedure, opts: { operator?: string; inputs?: Record<string, string>; now?: Date } = {}): RunRecord {
  const inputs = opts.inputs ?? {};
  for (const i of proc.inputs) {
    if (i.required && !(inputs[i.name] ?? '').trim()) {
      throw new OpsError('ERR_USAGE', `The procedure ${proc.id} needs the input "${i.name}" (${i.description}). Give it with --input ${i.name}=<value>.`);
    }
  }
  const unknown = Object.keys(inputs).filter((k) => !proc.inputs.some((i) => i.name === k));
  if (unknown.length) throw new OpsError('ERR_USAGE', `The procedure ${proc.id} has no input ${unknown.map((u) => `"${u}"`).join(', ')}. Its inputs: ${proc.inputs.map((i) => i.name).join(', ') || 'none'}.`);
  const now = opts.now ?? new Date();
  const id = `${proc.id}-${stamp(now)}-${randomBytes(3).toString('hex')}`;
  const ts = now.toISOString();
  db.transaction(() => {
    db.prepare('INSERT INTO checklist_runs (id, checklist_id, title, section, state, operator, started_at, updated_at, inputs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run(id, proc.id, proc.title, proc.section, 'not_started', opts.operator?.trim() ?? '', ts, ts, JSON.stringify(inputs));
    const ins = db.prepare("INSERT INTO checklist_steps (run_id, position, step_id, kind, status) VALUES (?, ?, ?, ?, 'pending')");
    proc.steps.forEach((s, i) => ins.run(id, i + 1, s.id, s.type));
  }).immediate();
  return getRun(db, id, [proc]);
}

const NOT_APPLICABLE = /^(n\/?a|not applicable)\b[\s:,.-]*(.*)$/is;

/**
 * Fills inputs a run did not get at its start (for example the catch-up kit
 * of a KMS outage run, known only once signing is back). Only declared,
 * still empty inputs; audited.
 */
export function setRunInputs(db: Db, runId: string, procedures: Procedure[], inputs: Record<string, string>, operator?: string): RunRecord {
  const run = getRun(db, runId, procedures);
  const proc = procedures.find((p) => p.id === run.checklistId);
  if (!proc) throw new OpsError('ERR_RUNBOOK_INVALID', `The procedure "${run.checklistId}" of this run is no longer installed.`);
  if (run.state === 'done') throw new OpsError('ERR_CHECKLIST_STATE', `The run ${runId} is done: its inputs cannot change. Start a new run.`);
  const unknown = Object.keys(inputs).filter((k) => !proc.inputs.some((i) => i.name === k));
  if (unknown.length) throw new OpsError('ERR_USAGE', `The procedure ${proc.id} has no input ${unknown.map((u) => `"${u}"`).join(', ')}. Its inputs: ${proc.inputs.map((i) => i.name).join(', ') || 'none'}.`);
  const set = Object.keys(inputs).filter((k) => (run.inputs[k] ?? '').trim() !== '' && run.inputs[k] !== inputs[k]);
  if (set.length) throw new OpsError('ERR_USAGE', `The run ${runId} already has ${set.map((k) => `${k}=${run.inputs[k]}`).join(', ')}; a given input cannot change. Start a new run (--new) instead.`);
  const merged = { ...run.inputs, ...inputs };
  db.transaction(() => {
    db.prepare('UPDATE checklist_runs SET inputs = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(merged), new Date().toISOString(), runId);
    appendAudit(db, { action: 'checklist.inputs.set', subject: runId, operator, details: { runId, inputs } });
  }).immediate();
  return getRun(db, runId, procedures);
}

function normaliseAnswer(a: unknown, stepId: string): ManualAnswer | null {
  if (a === undefined || a === null) return null;
  if (typeof a === 'boolean') return { confirm: a };
  if (typeof a === 'string') {
    const t = a.trim();
    if (/^(no|n|false|declined?)$/i.test(t)) return { confirm: false };
    if (/^(yes|y|true|ok|done|confirm(ed)?)$/i.test(t)) return { confirm: true };
    const na = NOT_APPLICABLE.exec(t);
    if (na) return { confirm: true, notApplicable: true, note: na[2].replace(/^because\s+/i, '').trim() };
    return t ? { confirm: true, note: t } : null;
  }
  if (typeof a === 'object' && !Array.isArray(a) && 'confirm' in (a as object)) {
    const m = a as ManualAnswer;
    return { confirm: !!m.confirm, note: typeof m.note === 'string' ? m.note : undefined, notApplicable: m.notApplicable === true };
  }
  const what = Array.isArray(a) ? 'a list' : typeof a === 'object' ? 'a mapping without "confirm"' : `a ${typeof a}`;
  throw new OpsError('ERR_USAGE', `The answer for step "${stepId}" is ${what}. Answer a manual step with yes, no, a note ("what you observed"), "n/a: <why it does not apply>", or {confirm: true, note: "…"}. A note with several lines is one string (in YAML: a block scalar "|").`);
}

/** Answers must name manual steps of this procedure: a misspelled id is refused, listing the valid ones. */
export function checkAnswers(proc: Procedure, answers: Record<string, unknown> | undefined): void {
  if (!answers) return;
  const manual = proc.steps.filter((s) => s.type === 'manual').map((s) => s.id);
  const unknown = Object.keys(answers).filter((k) => !manual.includes(k));
  if (unknown.length) {
    throw new OpsError('ERR_USAGE', `The answers name ${unknown.map((u) => `"${u}"`).join(', ')}, which ${unknown.length === 1 ? 'is not a manual step' : 'are not manual steps'} of ${proc.id} (runbook ${proc.section}). Its manual steps: ${manual.join(', ') || 'none'}.`);
  }
  for (const [k, v] of Object.entries(answers)) normaliseAnswer(v, k);
}

function substitute(params: Record<string, unknown>, inputs: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) {
    if (typeof v === 'string') {
      const replaced = v.replace(/\$\{input\.([a-zA-Z0-9_]+)\}/g, (_m, name: string) => inputs[name] ?? '');
      out[k] = replaced;
    } else out[k] = v;
  }
  return out;
}

function isComplete(s: StepRecord, step: Step): boolean {
  if (!DONE_STATUSES.includes(s.status)) return false;
  if (step.type === 'automated' && step.onFail === 'block' && (s.status === 'failed' || s.status === 'unknown')) return false;
  return true;
}

/**
 * Runs the pending steps in order until the run is done, blocked (a blocking
 * check failed or the operator declined a step), or waiting for an answer to
 * a manual step (stays in_progress). Re-running a blocked run retries the
 * step that blocked it.
 */
export async function advanceRun(env: RunEnv, runId: string, opts: AdvanceOptions = {}): Promise<RunRecord> {
  const { db } = env;
  let run = getRun(db, runId, env.procedures);
  if (run.state === 'done') return run;
  const proc = env.procedures.find((p) => p.id === run.checklistId);
  if (!proc) throw new OpsError('ERR_RUNBOOK_INVALID', `The run ${runId} follows the procedure "${run.checklistId}", which this console no longer ships. Export its evidence; it cannot continue.`);
  const now = opts.now ?? (() => new Date());
  const operator = (opts.operator ?? run.operator).trim() || undefined;
  checkAnswers(proc, opts.answers);

  const setRunState = (state: RunState, reason: string | null): void => {
    const ts = now().toISOString();
    db.prepare('UPDATE checklist_runs SET state = ?, blocked_reason = ?, updated_at = ?, finished_at = ? WHERE id = ?').run(state, reason, ts, state === 'done' ? ts : null, runId);
  };

  const record = (step: Step, position: number, status: StepStatus, summary: string, evidence: Record<string, unknown> | null, note: string | null): StepRecord => {
    let rec!: StepRecord;
    db.transaction(() => {
      const row = appendAudit(db, {
        action: 'checklist.step.completed',
        subject: `${runId}/${step.id}`,
        operator,
        details: { runId, checklistId: proc.id, section: proc.section, stepId: step.id, type: step.type, status, summary, ...(note ? { note } : {}), ...(typeof evidence?.confirmation === 'string' ? { confirmation: evidence.confirmation } : {}) },
      });
      db.prepare('UPDATE checklist_steps SET status = ?, summary = ?, evidence = ?, note = ?, actor = ?, completed_at = ? WHERE run_id = ? AND step_id = ?').run(
        status, summary, evidence ? JSON.stringify(evidence) : null, note, row.actor, row.ts, runId, step.id,
      );
      db.prepare("UPDATE checklist_runs SET state = 'in_progress', blocked_reason = NULL, updated_at = ? WHERE id = ?").run(row.ts, runId);
      rec = { position, stepId: step.id, kind: step.type, title: step.title, status, summary, evidence, note, actor: row.actor, completedAt: row.ts, confirmation: (evidence?.confirmation as Confirmation | undefined) ?? null };
    }).immediate();
    return rec;
  };

  if (run.state === 'not_started') setRunState('in_progress', null);
  const finishIfLast = (): RunRecord => {
    const r = getRun(db, runId, env.procedures);
    if (proc.steps.every((st) => { const x = r.steps.find((y) => y.stepId === st.id); return !!x && isComplete(x, st); })) setRunState('done', null);
    return getRun(db, runId, env.procedures);
  };

  for (let i = 0; i < proc.steps.length; i++) {
    const step = proc.steps[i];
    const current = run.steps.find((s) => s.stepId === step.id);
    if (current && isComplete(current, step)) continue;
    if (opts.signal?.aborted) throw new OpsError('ERR_CANCELLED', 'Cancelled by the operator. The run keeps its progress; run it again to resume.');

    if (step.type === 'automated') {
      const def = CHECKS[step.check];
      let result: CheckResult;
      try {
        result = await def.run({
          ws: env.ws,
          db,
          settings: env.settings,
          services: env.services,
          now: now(),
          params: substitute(step.params, run.inputs),
          previous: Object.fromEntries(run.steps.filter((s) => s.evidence && DONE_STATUSES.includes(s.status)).map((s) => [s.stepId, s.evidence!])),
          runId,
          operator,
          identities: opts.identities,
          signal: opts.signal,
        });
      } catch (e) {
        if (opts.signal?.aborted) throw new OpsError('ERR_CANCELLED', 'Cancelled by the operator. The run keeps its progress; run it again to resume.');
        result = { status: 'fail', summary: `The check ${step.check} crashed: ${(e as Error).message}`, evidence: {} };
      }
      const status: StepStatus = { pass: 'passed', warn: 'warned', fail: 'failed', unknown: 'unknown' }[result.status] as StepStatus;
      const rec = record(step, i + 1, status, result.summary, result.evidence, (opts.singleStep && opts.stepNote?.trim()) || null);
      logEvent(env.ws, { event: 'checklist.step.completed', level: status === 'failed' ? 'warn' : 'info', runId, checklist: proc.id, step: step.id, status, message: result.summary });
      run = getRun(db, runId, env.procedures);
      opts.onStep?.(rec, run);
      if (!isComplete(rec, step)) {
        setRunState('blocked', `Step "${step.title}" ${status === 'unknown' ? 'could not be checked' : 'failed'}: ${result.summary}`);
        return getRun(db, runId, env.procedures);
      }
      if (opts.singleStep) return finishIfLast();
      continue;
    }

    // Manual step.
    let answer = normaliseAnswer(opts.answers?.[step.id], step.id);
    let via: Confirmation = opts.answersVia ?? 'answers-file';
    if (!answer && opts.yes) {
      answer = { confirm: true };
      via = 'yes-flag';
    }
    if (!answer && opts.prompt) {
      answer = await opts.prompt(step, run);
      via = 'prompt';
    }
    if (answer?.notApplicable && !answer.note?.trim()) {
      if (opts.prompt && via === 'prompt') answer = null;
      else {
        setRunState('in_progress', `Step "${step.title}" is marked not applicable without a reason: answer "n/a: <why it does not apply>".`);
        return getRun(db, runId, env.procedures);
      }
    }
    if (answer && answer.confirm && !answer.notApplicable && step.noteRequired && !answer.note?.trim()) {
      if (opts.prompt && !opts.answers?.[step.id]) answer = null;
      else {
        setRunState('in_progress', `Step "${step.title}" needs a note: answer it with text (in --answers, "${step.id}": "what you observed").`);
        return getRun(db, runId, env.procedures);
      }
    }
    if (!answer) {
      setRunState('in_progress', `Waiting for the operator at step ${i + 1} "${step.title}". Confirm it in a terminal, or with --answers <file> ({"${step.id}": "yes"} or a note) or --yes.`);
      return getRun(db, runId, env.procedures);
    }
    const how = { prompt: 'at the prompt', 'answers-file': 'from the answers file', 'yes-flag': 'in bulk with --yes (not confirmed one by one)' }[via];
    const status: StepStatus = answer.notApplicable ? 'not_applicable' : answer.confirm ? 'confirmed' : 'declined';
    const summary = answer.notApplicable
      ? `Not applicable here (${how}): ${answer.note!.trim()}`
      : answer.confirm
        ? via === 'yes-flag'
          ? 'Confirmed in bulk with --yes (not confirmed one by one).'
          : `Confirmed by the operator ${how}.`
        : `The operator could not confirm this step (${how}).`;
    const rec = record(step, i + 1, status, summary, { confirmation: via }, answer.note?.trim() || null);
    run = getRun(db, runId, env.procedures);
    opts.onStep?.(rec, run);
    if (!answer.confirm) {
      setRunState('blocked', `The operator could not confirm step ${i + 1} "${step.title}"${answer.note ? `: ${answer.note}` : ''}. Resolve it and run the checklist again to resume.`);
      return getRun(db, runId, env.procedures);
    }
    if (opts.singleStep) return finishIfLast();
  }
  setRunState('done', null);
  return getRun(db, runId, env.procedures);
}

/** Overall outcome of a finished or partial run: worst step status. */
export function runOutcome(run: RunRecord): 'pass' | 'warn' | 'fail' | 'incomplete' {
  if (run.state !== 'done') return 'incomplete';
  if (run.steps.some((s) => s.status === 'failed' || s.status === 'declined')) return 'fail';
  if (run.steps.some((s) => s.status === 'warned' || s.status === 'unknown')) return 'warn';
  // A run whose manual steps were confirmed only in bulk (--yes) passes, but says so (see the evidence).
  return 'pass';
}

/** Done as far as the run goes: a failed non-blocking check counts as done; a failed blocking one does not. */
export function isStepDone(rec: StepRecord | undefined, step: Step): boolean {
  return !!rec && isComplete(rec, step);
}

/** The step the operator does next (steps go in order); null when the run is done or its procedure is unknown. */
export function nextStep(run: RunRecord, procedures: Procedure[]): Step | null {
  const proc = procedures.find((p) => p.id === run.checklistId);
  if (!proc || run.state === 'done') return null;
  return proc.steps.find((st) => !isStepDone(run.steps.find((r) => r.stepId === st.id), st)) ?? null;
}

/**
 * The rule for completing one step from a UI: the run is not done, the step
 * exists, and it is the next one (steps are done in order). Returns the step.
 */
export function assertNextStep(run: RunRecord, procedures: Procedure[], stepId: string): Step {
  if (run.state === 'done') throw new OpsError('ERR_CHECKLIST_STATE', `The run "${run.title}" is already done. Start a new run to do it again.`);
  const proc = procedures.find((p) => p.id === run.checklistId);
  if (!proc) throw new OpsError('ERR_CHECKLIST_STATE', `The procedure "${run.checklistId}" of this run is no longer installed.`);
  const step = proc.steps.find((st) => st.id === stepId);
  if (!step) throw new OpsError('ERR_CHECKLIST_STATE', `The procedure "${proc.title}" has no step "${stepId}".`);
  const next = nextStep(run, procedures);
  if (next && next.id !== step.id) throw new OpsError('ERR_CHECKLIST_STATE', `Steps are done in order: the next step of "${proc.title}" is "${next.title}", not "${step.title}".`);
  return step;
}

/**
 * A step done from a UI that changes the workspace (freeze, resume, restore,
 * prune, catch-up import...) needs the operator's confirmation with a written
 * reason, recorded as the step's note.
 */
export function assertReasonForChange(step: Step, confirm: boolean | undefined, note: string | undefined): void {
  if (step.type !== 'automated' || CHECKS[step.check]?.mutates !== true) return;
  if (confirm !== true || (note ?? '').trim().length < 3) {
    throw new OpsError('ERR_CHECKLIST_STATE', `Step "${step.title}" changes the workspace: confirm it with a reason of at least 3 characters (recorded in the audit log).`);
  }
}

/** The IPC contract's view of a run (shared/contract.ts ChecklistRunView): what the app shows. */
export function toChecklistRunView(run: RunRecord, procedures: Procedure[]): ChecklistRunView {
  return {
    runId: run.id,
    checklistId: run.checklistId,
    title: run.title,
    state: run.state,
    startedAt: run.startedAt,
    reason: run.blockedReason,
    nextStepId: nextStep(run, procedures)?.id ?? null,
    steps: run.steps.map((s) => {
      const def = procedures.find((p) => p.id === run.checklistId)?.steps.find((x) => x.id === s.stepId);
      const check = def?.type === 'automated' ? def.check : null;
      return {
        id: s.stepId,
        title: s.title,
        type: s.kind,
        status: s.status,
        note: s.note,
        by: s.actor,
        at: s.completedAt,
        evidence: s.summary ?? (s.evidence ? JSON.stringify(s.evidence) : null),
        confirmation: s.confirmation,
        check,
        changes: check !== null && CHECKS[check]?.mutates === true,
      };
    }),
  };
}

/** The IPC contract's summary of a procedure. */
export function toChecklistSummary(p: Procedure): ChecklistSummary {
  return { id: p.id, title: p.title, section: p.section, stepCount: p.steps.length, inputs: p.inputs.map((i) => ({ name: i.name, description: i.description, required: i.required })) };
}
