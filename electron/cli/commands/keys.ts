/** `mirror keys add|list|rotate|revoke`: trusted keys per tenant (runbook 9: each change needs a reason). */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { OpsError } from '../../../shared/errors';
import { inspectPublicKey, type KeyRecord } from '../../services/keys/index';
import { parseCommandArgs, type CliIo, type Command } from '../command';
import { printJson } from '../output';
import { runPrompting, type Prompter } from '../prompter';
import { withWorkspace } from '../shared';

const USAGE = `Usage:
  mirror keys add <public.pem> --tenant <t> --reason "<change record>" [--fingerprint sha256:<hex>]
      [--label <name>] [--operator <name>] [--workspace <dir>] [--json]
      Shows the key's algorithm and fingerprint and asks you to confirm it (in a terminal);
      scripts confirm with --fingerprint. A mismatch trusts nothing (exit 4).
  mirror keys list [--tenant <t>] [--all] [--workspace <dir>] [--json]
      Trusted keys; --all also shows revoked ones.
  mirror keys rotate <new.pem> --tenant <t> --replaces <old-fingerprint> [--fingerprint ...]
      --reason "..." [--label ...]   The old key stays trusted until revoked.
  mirror keys revoke <fingerprint> --tenant <t> --reason "<change record>"
Every change needs --reason (runbook 9: a change record) and is written to the audit log with it.`;

function readPem(file: string | undefined, io: CliIo): string {
  if (!file) throw new OpsError('ERR_USAGE', 'Give the public key file (PEM) as the argument.');
  const p = resolve(io.cwd, file);
  if (!existsSync(p)) throw new OpsError('ERR_INPUT_NOT_FOUND', `The key file ${p} does not exist.`, { path: p });
  return readFileSync(p, 'utf8');
}

/** Asks the operator to confirm the fingerprint (TTY), or takes --fingerprint. Returns what was confirmed. */
async function confirmFingerprint(pem: string, flag: string | undefined, prompter: Prompter, io: CliIo, json: boolean): Promise<string> {
  const k = inspectPublicKey(pem);
  if (flag !== undefined) return flag;
  if (!prompter.interactive) {
    throw new OpsError('ERR_USAGE', `No terminal to confirm the fingerprint. The key is ${k.algorithm} ${k.fingerprint}: compare it with the published one, then pass --fingerprint ${k.fingerprint}.`);
  }
  if (!json) io.stderr.write(`Key algorithm: ${k.algorithm}\nFingerprint:   ${k.fingerprint}\n`);
  const a = ((await prompter.ask('Compare with the fingerprint published by the Export Center. Type "yes" (or paste the published fingerprint) to trust it: ')) ?? '').trim();
  if (a.toLowerCase() === 'yes' || a.toLowerCase() === 'y') return k.fingerprint;
  if (a.toLowerCase().startsWith('sha256:')) return a;
  throw new OpsError('ERR_FINGERPRINT_MISMATCH', 'The fingerprint was not confirmed. Nothing was trusted.');
}

async function reasonOf(flag: string | undefined, prompter: Prompter): Promise<string> {
  if (flag !== undefined) return flag;
  if (prompter.interactive) return ((await prompter.ask('Reason for this change (change record, e.g. ticket id): ')) ?? '').trim();
  return '';
}

function printRecord(io: CliIo, r: KeyRecord): void {
  io.stdout.write(`${r.status === 'active' ? 'trusted' : 'REVOKED'}  ${r.tenant}  ${r.algorithm}  ${r.fingerprint}${r.label ? `  (${r.label})` : ''}\n`);
  io.stdout.write(`         added ${r.addedAt} by ${r.addedBy}: ${r.reason}${r.replaces ? `; replaces ${r.replaces}` : ''}\n`);
  if (r.revokedAt) io.stdout.write(`         revoked ${r.revokedAt} by ${r.revokedBy}: ${r.revokedReason}\n`);
}

const common = { workspace: { type: 'string' }, tenant: { type: 'string' }, operator: { type: 'string' }, json: { type: 'boolean' } } as const;

async function run(sub: string | undefined, argv: string[], io: CliIo, prompter: Prompter): Promise<number> {
  switch (sub) {
    case 'add':
    case 'rotate': {
      const { values, positionals } = parseCommandArgs(argv, { ...common, fingerprint: { type: 'string' }, reason: { type: 'string' }, label: { type: 'string' }, replaces: { type: 'string' } });
      if (positionals.length !== 1) throw new OpsError('ERR_USAGE', `mirror keys ${sub} takes exactly one public key file.`);
      if (sub === 'rotate' && !values.replaces) throw new OpsError('ERR_USAGE', 'mirror keys rotate needs --replaces <fingerprint of the old key>.');
      if (!values.tenant) throw new OpsError('ERR_USAGE', `mirror keys ${sub} needs --tenant <name>: keys are trusted per tenant.`);
      const json = !!values.json;
      const pem = readPem(positionals[0], io);
      const confirmed = await confirmFingerprint(pem, values.fingerprint, prompter, io, json);
      const reason = await reasonOf(values.reason, prompter);
      return withWorkspace(io, values.workspace, (engine) => {
        const input = { pem, tenant: values.tenant!, confirmFingerprint: confirmed, reason, label: values.label, operator: values.operator };
        const rec = sub === 'add' ? engine.keys.add(input) : engine.keys.rotate({ ...input, replaces: values.replaces! });
        if (json) printJson(io, { ok: true, key: { ...rec, pem: undefined } });
        else {
          io.stdout.write(sub === 'add' ? 'Key trusted.\n' : `Key rotated in; ${rec.replaces} stays trusted until you revoke it.\n`);
          printRecord(io, rec);
        }
        return 0;
      }, { create: true });
    }
    case 'list': {
      const { values } = parseCommandArgs(argv, { ...common, all: { type: 'boolean' } }, false);
      return withWorkspace(io, values.workspace, (engine) => {
        const recs = engine.keys.list({ tenant: values.tenant, includeRevoked: !!values.all });
        if (values.json) printJson(io, { keys: recs.map((r) => ({ ...r, pem: undefined })) });
        else if (recs.length === 0) io.stdout.write(`No trusted keys${values.tenant ? ` for tenant ${values.tenant}` : ''}. Add one with: mirror keys add <public.pem> --tenant <t>\n`);
        else for (const r of recs) printRecord(io, r);
        return 0;
      });
    }
    case 'revoke': {
      const { values, positionals } = parseCommandArgs(argv, { ...common, reason: { type: 'string' } });
      if (positionals.length !== 1) throw new OpsError('ERR_USAGE', 'mirror keys revoke takes exactly one fingerprint (sha256:<hex>).');
      if (!values.tenant) throw new OpsError('ERR_USAGE', 'mirror keys revoke needs --tenant <name>.');
      const reason = await reasonOf(values.reason, prompter);
      return withWorkspace(io, values.workspace, (engine) => {
        const rec = engine.keys.revoke({ tenant: values.tenant!, fingerprint: positionals[0], reason, operator: values.operator });
        if (values.json) printJson(io, { ok: true, key: { ...rec, pem: undefined } });
        else {
          io.stdout.write('Key revoked: bundles signed only by it no longer verify for this tenant.\n');
          printRecord(io, rec);
        }
        return 0;
      });
    }
    default:
      throw new OpsError('ERR_USAGE', `Unknown keys sub-command "${sub ?? ''}". Use add, list, rotate or revoke.\n${USAGE}`);
  }
}

export const keysCommand: Command = {
  name: 'keys',
  summary: 'Trust, list, rotate or revoke signing keys per tenant',
  usage: USAGE,
  run: (argv, io) => runPrompting(argv, io, run),
};
