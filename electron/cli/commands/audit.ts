/** `mirror audit verify|export|list`: the tamper-evident audit log. */
import { resolve } from 'node:path';
import { OpsError } from '../../../shared/errors';
import { readExportHead } from '../../services/audit/export';
import { normaliseTs } from '../../services/audit/index';
import { TRUST_STORE_ACTION } from '../../services/keys/index';
import { parseCommandArgs, type CliIo, type Command } from '../command';
import { printJson, reportError } from '../output';
import { withWorkspace } from '../shared';

const USAGE = `Usage:
  mirror audit verify --workspace <dir> [--against <evidence-export>] [--json]
      Walks the hash chain and names the first broken row. --against checks the log
      still reaches the head recorded by an earlier export (a cut tail is detected).
      Also checks every pinned key against the audited key events: a key that no
      keys.added/keys.rotated row added (written into console.db outside the
      console), a revocation undone, or replaced key bytes are reported.
      Exit 0 intact, 2 broken.
  mirror audit export --workspace <dir> --out <file> [--from <ts>] [--to <ts>]
      [--format jsonl|csv] [--sign-key <private.pem>] [--json]
      Writes the rows plus the chain head (<out>.head.json; JSONL also as its last line).
      With --sign-key, writes detached signatures <out>.sig and <out>.head.json.sig.
  mirror audit list --workspace <dir> [--action <name>] [--from <ts>] [--to <ts>]
      [--limit <n>] [--cursor <c>] [--json]
      Newest first. --from is inclusive, --to exclusive (RFC 3339 or a date).
Without --workspace, the default workspace in the user's data folder is used.`;

async function verify(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(argv, { workspace: { type: 'string' }, against: { type: 'string' }, json: { type: 'boolean' } }, false);
  const json = !!values.json;
  return withWorkspace(io, values.workspace, (engine) => {
    const against = values.against ? readExportHead(resolve(io.cwd, values.against)) : undefined;
    const v = engine.audit.verify({ against });
    if (json) {
      printJson(io, { ok: v.ok, code: v.ok ? null : 'ERR_AUDIT_BROKEN', message: v.message, rows: v.rows, head: v.head, firstBroken: v.firstBroken, against: v.against, trustStore: v.trustStore });
    } else {
      io.stdout.write(`${v.ok ? 'INTACT' : 'BROKEN [ERR_AUDIT_BROKEN]'}  ${v.message}\n`);
      for (const p of v.trustStore) io.stdout.write(`  key not backed by the audit log [${p.problem}]: ${p.tenant} ${p.fingerprint}\n`);
      if (!v.ok) io.stdout.write('  what to do: Preserve the database file as evidence (copy it aside), compare with the last signed audit export, and report to security.\n');
      if (v.trustStore.length) io.stdout.write(`  then: ${TRUST_STORE_ACTION}\n`);
    }
    return v.ok ? 0 : 2;
  });
}

async function doExport(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    { workspace: { type: 'string' }, out: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, format: { type: 'string' }, 'sign-key': { type: 'string' }, operator: { type: 'string' }, json: { type: 'boolean' } },
    false,
  );
  const outFile = values.out;
  if (!outFile) throw new OpsError('ERR_USAGE', 'mirror audit export needs --out <file>.');
  const format = (values.format ?? 'jsonl') as 'jsonl' | 'csv';
  if (format !== 'jsonl' && format !== 'csv') throw new OpsError('ERR_USAGE', `--format must be jsonl or csv, got "${values.format}".`);
  return withWorkspace(io, values.workspace, (engine) => {
    const res = engine.audit.export({
      out: resolve(io.cwd, outFile),
      from: normaliseTs('--from', values.from),
      to: normaliseTs('--to', values.to),
      format,
      signWith: values['sign-key'] ? resolve(io.cwd, values['sign-key']) : undefined,
      operator: values.operator,
    });
    if (values.json) printJson(io, { ok: true, ...res });
    else {
      io.stdout.write(`Exported ${res.rows} audit rows to ${res.out}\n`);
      io.stdout.write(`Chain head: ${res.head.count} rows, last id ${res.head.lastId}, hash ${res.head.hash}\n`);
      io.stdout.write(`Head record: ${res.headFile}\n`);
      if (res.signature) io.stdout.write(`Signatures: ${res.signature}, ${res.headSignature}\n`);
    }
    return 0;
  });
}

async function list(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    { workspace: { type: 'string' }, action: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' }, json: { type: 'boolean' } },
    false,
  );
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new OpsError('ERR_USAGE', `--limit expects a whole number from 1 to 10000, got "${values.limit}".`);
  return withWorkspace(io, values.workspace, (engine) => {
    const page = engine.audit.list({ action: values.action, from: normaliseTs('--from', values.from), to: normaliseTs('--to', values.to), limit, cursor: values.cursor });
    if (values.json) printJson(io, page);
    else {
      if (page.rows.length === 0) io.stdout.write('No audit rows match.\n');
      for (const r of page.rows) io.stdout.write(`${String(r.id).padStart(7)}  ${r.ts}  ${r.action.padEnd(28)} ${r.subject}  [${r.actor}]${Object.keys(r.details).length ? `  ${JSON.stringify(r.details)}` : ''}\n`);
      if (page.nextCursor) io.stdout.write(`More rows: --cursor ${page.nextCursor}\n`);
    }
    return 0;
  });
}

export const auditCommand: Command = {
  name: 'audit',
  summary: 'Verify, export or list the tamper-evident audit log',
  usage: USAGE,
  async run(argv, io) {
    const [sub, ...rest] = argv;
    const json = rest.includes('--json');
    try {
      switch (sub) {
        case 'verify':
          return await verify(rest, io);
        case 'export':
          return await doExport(rest, io);
        case 'list':
          return await list(rest, io);
        default:
          throw new OpsError('ERR_USAGE', `Unknown audit sub-command "${sub ?? ''}". Use verify, export or list.\n${USAGE}`);
      }
    } catch (e) {
      return reportError(io, e, json);
    }
  },
};
