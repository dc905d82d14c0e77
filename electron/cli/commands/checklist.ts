/** `mirror checklist list|run|status|export|advice`: the runbook's procedures from a terminal or a script. */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { OpsError } from '../../../shared/errors';
import { resolveTrust, type Engine } from '../../services/engine';
import {
  failureLookup,
  failureTable,
  findProcedure,
  loadProcedures,
  runOutcome,
  type Answers,
  type RestoreOffer,
  type RestorePlan,
  type RunRecord,
  type StepRecord,
} from '../../services/runbooks/index';
import { parseCommandArgs, type CliIo, type Command } from '../command';
import { printJson } from '../output';
import { trustFlags, withWorkspace } from '../shared';
import { runPrompting, type Prompter } from '../prompter';

const USAGE = `Usage:
  mirror checklist list [--json]
      The procedures (checklists and playbooks) and their runbook sections.
  mirror checklist run <procedure-id|section|run-id> [--workspace <dir>] [--operator <name>]
      [--input name=value ...] [--answers <file>] [--yes] [--identity <age-identity-file>] [--new] [--json]
      Runs the automated steps and asks for the manual ones (in a terminal). Scripts answer
      manual steps with --answers (JSON/YAML: {"<step-id>": "yes" | "no" | "<note>" |
      "n/a: <why it does not apply>"}) or --yes (recorded as a bulk confirmation, not one by one).
      Given a run id, --input fills inputs the run did not get at its start (audited).
      Without a terminal and without an answer the run stays in progress at that step.
      An unfinished run of the same procedure is resumed unless --new (or any --input) is given.
      Exit 0 when the run is done without failures; 1 otherwise (blocked, waiting, failed checks).
  mirror checklist status [<run-id>] [--workspace <dir>] [--json]
  mirror checklist export <run-id> [--out <dir>] [--workspace <dir>] [--sign-key <private.pem>] [--json]
      Writes <run-id>.json and <run-id>.html (default: <workspace>/evidence/checklists); with
      --sign-key also detached signatures <file>.sig of both (as mirror audit export).
  mirror checklist acknowledge --reason "<what was done>" [--workspace <dir>] [--operator <name>] [--json]
      Failures found in the logs stay in the daily check until acknowledged; this records
      who acknowledged them, why and up to when (audit row failures.acknowledged).
  mirror checklist advice [<error-code|symptom>] [--json]
      The runbook's failure table (section 6): likely cause, immediate action, follow-up.`;

const MARK: Record<string, string> = { passed: 'PASS', confirmed: 'DONE', warned: 'WARN', unknown: '????', failed: 'FAIL', declined: 'NO  ', pending: '    ', not_applicable: 'N/A ' };

function stepLine(s: StepRecord): string {
  return `  [${MARK[s.status] ?? s.status}] ${s.position}. ${s.title}${s.summary && s.kind === 'automated' ? `\n         ${s.summary}` : ''}${s.note ? `\n         note: ${s.note}` : ''}`;
}

function printRun(io: CliIo, run: RunRecord, skip: Set<string> = new Set()): void {
  io.stdout.write(`${run.title} (runbook ${run.section})  run ${run.id}\n`);
  io.stdout.write(`state: ${run.state}${run.state === 'done' ? `, outcome: ${runOutcome(run)}` : ''}  operator: ${run.operator || '(none)'}  started ${run.startedAt}\n`);
  for (const s of run.steps) if (!skip.has(s.stepId)) io.stdout.write(stepLine(s) + '\n');
  const bulk = run.steps.filter((s) => s.confirmation === 'yes-flag').length;
  if (bulk) io.stdout.write(`${bulk} manual step(s) confirmed in bulk with --yes (recorded as such in the audit log and the evidence).\n`);
  if (run.blockedReason) io.stdout.write(`${run.state === 'blocked' ? 'BLOCKED' : 'WAITING'}: ${run.blockedReason}\n`);
}

function parseInputs(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const i = item.indexOf('=');
    if (i <= 0) throw new OpsError('ERR_USAGE', `--input expects name=value, got "${item}".`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

function readAnswers(file: string | undefined, io: CliIo): Answers | undefined {
  if (!file) return undefined;
  const p = resolve(io.cwd, file);
  if (!existsSync(p)) throw new OpsError('ERR_INPUT_NOT_FOUND', `The answers file ${p} does not exist.`, { path: p });
  let v: unknown;
  try {
    v = parseYaml(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new OpsError('ERR_USAGE', `The answers file ${p} is not valid JSON or YAML: ${(e as Error).message}`, { path: p });
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new OpsError('ERR_USAGE', `The answers file ${p} must map step ids to answers, e.g. {"review-dashboard": "yes"}.`, { path: p });
  return v as Answers;
}

/** age identities for the run's automated steps: the one trust policy's parser (X25519 and PQ identities). */
function readIdentities(files: string[] | undefined, io: CliIo): string[] | undefined {
  if (!files?.length) return undefined;
  return resolveTrust(null, trustFlags(io, { identity: files })).identities;
}

/**
 * A blocked restore (7.2) names what is still possible; at a terminal the
 * operator can take the rollback offer right away (deep-verified, audited
 * with the run as the reason). Nothing happens without a typed choice.
 */
async function offerRestoreAlternatives(io: CliIo, prompter: Prompter, engine: Engine, run: RunRecord, operator: string | undefined): Promise<string | null> {
  const failed = run.steps.find((s) => s.status === 'failed' && s.evidence && typeof s.evidence.plan === 'object');
  const plan = failed?.evidence?.plan as RestorePlan | undefined;
  if (!plan?.offers?.length) return null;
  const rollbacks = plan.offers.filter((o): o is Extract<RestoreOffer, { kind: 'rollback' }> => o.kind === 'rollback');
  io.stderr.write('\nWhat is still possible:\n');
  plan.offers.forEach((o, i) => io.stderr.write(`  ${i + 1}. ${o.text}\n`));
  if (!rollbacks.length) return null;
  const a = ((await prompter.ask(`Type the number of a rollback to do it now, or press Enter to leave staging as it is: `)) ?? '').trim();
  if (!a) return null;
  const pick = plan.offers[Number(a) - 1];
  if (!pick || pick.kind !== 'rollback') return `Nothing done ("${a}" is not a rollback offer).`;
  const r = await engine.rollback({ to: pick.generation, reason: `runbook 7.2: the restore was refused (run ${run.id}); rollback offered and chosen`, operator, signal: io.signal });
  return `Rolled back to generation ${r.to.generation} (${r.to.exportId}), deep-verified before the switch.`;
}

async function run(sub: string | undefined, argv: string[], io: CliIo, prompter: Prompter): Promise<number> {
  switch (sub) {
    case 'list': {
      const { values } = parseCommandArgs(argv, { json: { type: 'boolean' }, workspace: { type: 'string' } }, false);
      const procs = loadProcedures();
      if (values.json) printJson(io, { procedures: procs });
      else for (const p of procs) io.stdout.write(`${p.section.padEnd(4)} ${p.id.padEnd(24)} ${p.kind.padEnd(9)} ${p.title} (${p.steps.length} steps${p.inputs.length ? `; inputs: ${p.inputs.map((i) => `${i.name}${i.required ? '' : '?'}`).join(', ')}` : ''})\n`);
      return 0;
    }
    case 'advice': {
      const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
      if (positionals.length === 0) {
        const table = failureTable();
        if (values.json) printJson(io, { table });
        else for (const a of table) io.stdout.write(`${a.key}\n  cause: ${a.cause}\n  immediate action: ${a.action}\n  follow-up: ${a.followUp}\n`);
        return 0;
      }
      const a = failureLookup(positionals[0]);
      if (!a) throw new OpsError('ERR_USAGE', `No failure table entry for "${positionals[0]}". Run \`mirror checklist advice\` for the whole table.`);
      if (values.json) printJson(io, a);
      else io.stdout.write(`${a.symptom}\n  likely cause: ${a.cause}\n  immediate action: ${a.action}\n  follow-up: ${a.followUp}\n`);
      return 0;
    }
    case 'run': {
      const { values, positionals } = parseCommandArgs(argv, {
        workspace: { type: 'string' },
        operator: { type: 'string' },
        input: { type: 'string', multiple: true },
        answers: { type: 'string' },
        yes: { type: 'boolean' },
        identity: { type: 'string', multiple: true },
        new: { type: 'boolean' },
        json: { type: 'boolean' },
      });
      if (positionals.length !== 1) throw new OpsError('ERR_USAGE', 'mirror checklist run takes one procedure id (see mirror checklist list) or a run id to resume.');
      const json = !!values.json;
      const answers = readAnswers(values.answers, io);
      const identities = readIdentities(values.identity, io);
      const inputs = parseInputs(values.input);
      return withWorkspace(io, values.workspace, async (engine) => {
        const ws = engine.ws;
        const target = positionals[0];
        let runId: string;
        // A run id resumes that run; otherwise it is a procedure id.
        const existing = engine.runbooks.findRun(target);
        if (existing) {
          runId = existing.id;
          if (Object.keys(inputs).length) engine.runbooks.setInputs(runId, inputs, { operator: values.operator });
        } else {
          const proc = findProcedure(engine.runbooks.procedures(), target);
          const open = values.new ? [] : engine.runbooks.listRuns({ checklistId: proc.id, unfinished: true, limit: 1 });
          if (open[0] && Object.keys(inputs).length === 0) {
            runId = open[0].id;
            if (!json) io.stderr.write(`Resuming run ${runId} (started ${open[0].startedAt}, ${open[0].state}). Use --new to start over.\n`);
          } else runId = engine.runbooks.createRun(proc.id, { operator: values.operator, inputs }).id;
        }
        const printed = new Set<string>();
        const interactive = prompter.interactive && !json;
        if (!json && !values.operator && !ws.settings.operator) {
          io.stderr.write(`Note: no operator name given: steps are recorded as the OS user only. Give --operator "<name>" or set it once: mirror settings set operator "<name>" --reason "…".\n`);
        }
        const result = await engine.runbooks.advance(runId, {
          answers,
          yes: !!values.yes,
          operator: values.operator,
          identities,
          signal: io.signal,
          prompt: interactive
            ? async (step) => {
                io.stderr.write(`\n${step.title}\n${step.description ? `  ${step.description}\n` : ''}`);
                for (;;) {
                  const a = await prompter.ask(step.type === 'manual' && step.noteRequired ? 'Type a note to confirm (or "no" if you cannot): ' : 'Done? [y = yes, n = cannot confirm, "n/a: why" = does not apply here, or type a note]: ');
                  if (a === null) return null;
                  const t = a.trim();
                  if (!t) continue;
                  if (/^(n|no)$/i.test(t)) return { confirm: false };
                  const na = /^(n\/?a|not applicable)\b[\s:,.-]*(.*)$/is.exec(t);
                  if (na) {
                    if (!na[2].trim()) {
                      io.stderr.write('Say why it does not apply: "n/a: <reason>".\n');
                      continue;
                    }
                    return { confirm: true, notApplicable: true, note: na[2].replace(/^because\s+/i, '').trim() };
                  }
                  if (/^(y|yes)$/i.test(t)) {
                    if (step.type === 'manual' && step.noteRequired) continue;
                    return { confirm: true };
                  }
                  return { confirm: true, note: t };
                }
              }
            : undefined,
          onStep: json
            ? undefined
            : (s) => {
                printed.add(s.stepId);
                io.stdout.write(stepLine(s) + '\n');
              },
        });
        if (!json && interactive && result.state === 'blocked') {
          const done = await offerRestoreAlternatives(io, prompter, engine, result, values.operator ?? (ws.settings.operator || undefined));
          if (done) io.stdout.write(`${done}\n`);
        }
        if (json) printJson(io, { ok: result.state === 'done' && runOutcome(result) !== 'fail', outcome: runOutcome(result), run: result });
        else {
          // The steps were printed as they completed; the summary shows only the rest.
          io.stdout.write(`\n`);
          printRun(io, result, printed);
          if (result.state === 'done') io.stdout.write(`Evidence: mirror checklist export ${result.id}\n`);
        }
        return result.state === 'done' && runOutcome(result) !== 'fail' ? 0 : 1;
      });
    }
    case 'status': {
      const { values, positionals } = parseCommandArgs(argv, { workspace: { type: 'string' }, json: { type: 'boolean' } });
      return withWorkspace(io, values.workspace, (engine) => {
        if (positionals[0]) {
          const r = engine.runbooks.getRun(positionals[0]);
          if (values.json) printJson(io, { run: r, outcome: runOutcome(r) });
          else printRun(io, r);
          return 0;
        }
        const runs = engine.runbooks.listRuns({ limit: 50 });
        if (values.json) printJson(io, { runs: runs.map((r) => ({ id: r.id, checklistId: r.checklistId, section: r.section, state: r.state, outcome: runOutcome(r), operator: r.operator, startedAt: r.startedAt, updatedAt: r.updatedAt, blockedReason: r.blockedReason })) });
        else if (runs.length === 0) io.stdout.write('No checklist runs yet. Start one: mirror checklist run daily\n');
        else for (const r of runs) io.stdout.write(`${r.id.padEnd(44)} ${r.state.padEnd(12)} ${(r.state === 'done' ? runOutcome(r) : '').padEnd(5)} ${r.startedAt}  ${r.title}\n`);
        return 0;
      });
    }
    case 'export': {
      const { values, positionals } = parseCommandArgs(argv, { workspace: { type: 'string' }, out: { type: 'string' }, 'sign-key': { type: 'string' }, json: { type: 'boolean' } });
      if (positionals.length !== 1) throw new OpsError('ERR_USAGE', 'mirror checklist export takes one run id (see mirror checklist status).');
      return withWorkspace(io, values.workspace, (engine) => {
        const res = engine.runbooks.exportEvidence(positionals[0], values.out ? resolve(io.cwd, values.out) : undefined, { signWith: values['sign-key'] ? resolve(io.cwd, values['sign-key']) : undefined });
        if (values.json) printJson(io, { ok: true, json: res.json, html: res.html, signatures: res.signatures, outcome: res.report.outcome });
        else io.stdout.write(`Evidence written:\n  ${res.json}\n  ${res.html}\n${res.signatures.map((x) => `  ${x}\n`).join('')}`);
        return 0;
      });
    }
    case 'acknowledge':
    case 'ack': {
      const { values } = parseCommandArgs(argv, { workspace: { type: 'string' }, reason: { type: 'string' }, operator: { type: 'string' }, json: { type: 'boolean' } });
      return withWorkspace(io, values.workspace, (engine) => {
        const a = engine.runbooks.acknowledgeFailures({ reason: values.reason ?? '', operator: values.operator });
        if (values.json) printJson(io, { ok: true, acknowledgement: a });
        else io.stdout.write(`Acknowledged ${a.count} failure(s) up to ${a.until} (audit row ${a.id}, ${a.actor}): ${a.reason}\n`);
        return 0;
      });
    }
    default:
      throw new OpsError('ERR_USAGE', `Unknown checklist sub-command "${sub ?? ''}". Use list, run, status, export, acknowledge or advice.\n${USAGE}`);
  }
}

export const checklistCommand: Command = {
  name: 'checklist',
  summary: 'Run the runbook procedures (daily, weekly, pre-release, recovery playbooks)',
  usage: USAGE,
  run: (argv, io) => runPrompting(argv, io, run),
};
