/**
 * `mirror import <bundle|kit-dir>... --workspace <dir>`: verify (one read,
 * extracting as it goes), store in the library, apply in generation order.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { exitCodeFor, OpsError } from '../../../shared/errors';
import { listTrustedKeys } from '../../services/keys/index';
import { importLocked, openForWrite, readState, type ImportResult } from '../../services/staging/index';
import { loadPublicKey, type TrustedKey } from '../../services/verify/keys';
import { defaultWorkspaceDir, isWorkspaceDir } from '../../services/workspace/index';
import { parseCommandArgs, type CliIo, type Command } from '../command';
import { formatBytes, printJson, progressPrinter, reportError } from '../output';
import { parseIdentityFile } from './verify';

const USAGE = `Usage: mirror import <bundle|kit-dir>... [options]

Verifies each bundle (signatures, digests, decryption) and extracts it in the
same single read, keeps the bundle in the workspace library, and applies the
mirror bundles in generation order (file names and dates do not matter). A kit
folder's entries already applied are skipped; a gap stops before the gap.
The staging switch is atomic: a crash or a full disk leaves the previous generation.

Options:
  --workspace <dir>        the workspace (created on first import; default ${'$'}XDG_DATA_HOME/export-center-console/workspace)
  --key <pem>              a trusted public key for this command only (recorded in the audit log); repeatable
  --keyring <dir>          trust every *.pub / *.pem file in this folder for this command
                           (the workspace's pinned keys are always trusted too)
  --identity <file>        age identity file for encrypted bundles; repeatable
  --passphrase-file <file> passphrase of a scrypt age-encrypted bundle (first line)
  --force-reason "<text>"  apply a full (or resetBaseline) bundle that is not newer than the
                           current generation; the reason goes to the audit log
  --operator <name>        operator name for the audit log
  --dry-run                print the plan only (nothing is read beyond kit manifests, nothing changes)
  --json                   one JSON object on stdout
Exit codes: 0 applied (or already applied); 1 input not found or environment (busy, no space);
2 content mismatch; 4 usage; 5 signature or key not trusted; 8 ordering (replay, gap, other chain);
11 validation failed; 130 cancelled.`;

const OPTIONS = {
  workspace: { type: 'string' },
  key: { type: 'string', multiple: true },
  keyring: { type: 'string' },
  identity: { type: 'string', multiple: true },
  'passphrase-file': { type: 'string' },
  'force-reason': { type: 'string' },
  operator: { type: 'string' },
  'dry-run': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

function readInput(io: CliIo, flag: string, file: string): string {
  const p = resolve(io.cwd, file);
  try {
    return readFileSync(p, 'utf8');
  } catch (e) {
    throw new OpsError('ERR_INPUT_NOT_FOUND', `${flag} ${file}: the file cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`, { path: p });
  }
}

function keyFile(io: CliIo, flag: string, file: string, source: TrustedKey['source']): TrustedKey {
  try {
    return { ...loadPublicKey(readInput(io, flag, file), source), label: file };
  } catch (e) {
    if (e instanceof OpsError) throw new OpsError(e.code, `${flag} ${file}: ${e.message}`, { path: resolve(io.cwd, file) });
    throw e;
  }
}

export function cliKeys(io: CliIo, values: { key?: string[]; keyring?: string }): TrustedKey[] {
  const keys: TrustedKey[] = [];
  for (const k of values.key ?? []) keys.push(keyFile(io, '--key', k, 'cli'));
  if (values.keyring) {
    let names: string[];
    try {
      names = readdirSync(resolve(io.cwd, values.keyring)).filter((n) => /\.(pub|pem)$/i.test(n)).sort();
    } catch (e) {
      throw new OpsError('ERR_INPUT_NOT_FOUND', `--keyring ${values.keyring}: the folder cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`);
    }
    if (!names.length) throw new OpsError('ERR_USAGE', `--keyring ${values.keyring} holds no *.pub or *.pem file.`);
    for (const n of names) keys.push(keyFile(io, '--keyring', join(values.keyring, n), 'keyring'));
  }
  return keys;
}

export function workspaceDirFrom(io: CliIo, given: string | undefined): string {
  return given ? resolve(io.cwd, given) : defaultWorkspaceDir(io.env);
}

function formatResult(r: ImportResult): string {
  const lines: string[] = [];
  lines.push(r.dryRun ? 'PLAN (dry run, nothing changed)' : r.ok ? 'IMPORTED' : `STOPPED [${r.code}]`);
  for (const it of r.items) {
    const id = it.exportId ? ` ${it.exportId}${it.generation !== null ? ` (generation ${it.generation})` : ''}` : '';
    lines.push(`  ${it.outcome.padEnd(15)} ${it.kind ?? ''}${id}  ${it.path}`);
    if (it.outcome === 'refused' || it.outcome === 'not-applied') lines.push(`      ${it.code ? `[${it.code}] ` : ''}${it.message}`);
    if (it.stats) {
      const s = it.stats;
      lines.push(`      ${s.linkedFiles} files shared (hard links, ${s.linkSeconds.toFixed(3)} s), ${s.writtenFiles} files / ${formatBytes(s.writtenBytes)} brought in (${s.writeSeconds.toFixed(3)} s), verify+extract ${s.verifySeconds.toFixed(3)} s, fsync ${s.fsyncSeconds.toFixed(3)} s, switch ${s.switchSeconds.toFixed(3)} s`);
    }
  }
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  if (r.missing.length) lines.push(`  missing generation(s): ${r.missing.join(', ')}`);
  lines.push(r.message);
  if (!r.ok && r.action) lines.push(`what to do: ${r.action}`);
  return lines.join('\n');
}

export const importCommand: Command = {
  name: 'import',
  summary: 'Verify and apply bundles or kits to the workspace staging area (atomic, in generation order).',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const json = argv.includes('--json');
    try {
      const { values, positionals } = parseCommandArgs(argv, OPTIONS);
      if (!positionals.length) throw new OpsError('ERR_USAGE', 'Give one or more bundle files or kit folders: mirror import <bundle|kit-dir>... --workspace <dir>.');
      const dir = workspaceDirFrom(io, values.workspace);
      const keysCli = cliKeys(io, values);
      const identities: string[] = [];
      for (const f of values.identity ?? []) identities.push(...parseIdentityFile(readInput(io, '--identity', f), f));
      let passphrase: string | undefined;
      if (values['passphrase-file']) passphrase = readInput(io, '--passphrase-file', values['passphrase-file']).split(/\r?\n/)[0];
      if (values['force-reason'] !== undefined && values['force-reason'].trim().length < 3) throw new OpsError('ERR_USAGE', '--force-reason needs a written reason (for example the change ticket).');
      const paths = positionals.map((p) => resolve(io.cwd, p));
      if (!isWorkspaceDir(dir) && existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0)) {
        throw new OpsError('ERR_WORKSPACE_INVALID', `${dir} exists and is not a workspace (no workspace.json) and not empty: refusing to create a workspace there. Give a new or empty folder, or the right --workspace.`, { path: dir });
      }
      // A dry run against a workspace that does not exist yet plans against an empty one (not created).
      const scratch = values['dry-run'] && !isWorkspaceDir(dir) ? mkdtempSync(join(tmpdir(), 'okc-plan-')) : null;
      const session = openForWrite(scratch ?? dir, 'mirror import', { create: true });
      let result: ImportResult;
      try {
        const st = readState(session.db);
        const keys = [...keysCli, ...listTrustedKeys(session.db, st.chain_tenant ?? undefined)];
        if (!keys.length && !st.imports_frozen) throw new OpsError('ERR_VERIFY_SIGNATURE', 'No trusted key: pin the Export Center key in this workspace (mirror keys add) or pass --key <pem>.', { path: dir });
        const progress = json ? undefined : progressPrinter(io);
        result = await importLocked(session.ws, session.db, paths, {
          keys,
          identities,
          passphrase,
          forceReason: values['force-reason'],
          operator: values.operator ?? (session.ws.settings.operator || undefined),
          limits: session.ws.settings.limits,
          dryRun: !!values['dry-run'],
          signal: io.signal,
          ...(progress ? { onProgress: progress } : {}),
        });
      } finally {
        session.close();
        if (scratch) rmSync(scratch, { recursive: true, force: true });
      }
      if (session.recovery.recovered && !json) io.stderr.write(`note: an interrupted operation was recovered first: ${session.recovery.recovered.detail}\n`);
      // Echo the inputs as given.
      for (const it of result.items) {
        const i = paths.indexOf(it.path);
        if (i >= 0) it.path = positionals[i];
      }
      if (json) {
        // The verify --json shape where it applies (ok, code, message, action, path, kind, exportId, generation, items, warnings, stats), plus the import's own fields.
        let bytes = 0;
        let seconds = 0;
        for (const it of result.items) {
          bytes += it.stats?.writtenBytes ?? 0;
          seconds += it.stats?.totalSeconds ?? 0;
        }
        printJson(io, {
          ok: result.ok,
          code: result.code,
          message: result.message,
          action: result.action,
          path: positionals.length === 1 ? positionals[0] : positionals,
          kind: positionals.length === 1 && !statSync(paths[0]).isDirectory() ? result.items[0]?.kind ?? 'mirror-full' : 'kit',
          exportId: result.current?.exportId ?? null,
          generation: result.current?.generation ?? null,
          items: result.items,
          warnings: result.warnings,
          stats: { bytes, files: result.items.reduce((n, it) => n + (it.stats?.writtenFiles ?? 0) + (it.stats?.linkedFiles ?? 0), 0), seconds },
          dryRun: result.dryRun,
          missing: result.missing,
          current: result.current,
          workspace: scratch ? null : dir,
          recovered: session.recovery.recovered,
        });
      }
      else io.stdout.write(formatResult(result) + '\n');
      return exitCodeFor(result.code);
    } catch (e) {
      return reportError(io, e, json);
    }
  },
};
