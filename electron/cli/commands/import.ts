/**
 * `mirror import <bundle|kit-dir>... --workspace <dir>`: verify (one read,
 * extracting as it goes), store in the library, apply in generation order.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { exitCodeFor, OpsError } from '../../../shared/errors';
import { createEngine } from '../../services/engine';
import type { ImportResult, RecoveryReport } from '../../services/staging/index';
import { isWorkspaceDir } from '../../services/workspace/index';
import { parseCommandArgs, type CliIo, type Command } from '../command';
import { formatBytes, printJson, progressPrinter, reportError } from '../output';
import { readPassphrase, refuseForeignFolder, trustFlags, workspaceDirFrom } from '../shared';

const USAGE = `Usage: mirror import <bundle|kit-dir>... [options]

Verifies each bundle (signatures, digests, decryption) and extracts it in the
same single read, keeps the bundle in the workspace library, and applies the
mirror bundles in generation order (file names and dates do not matter). A kit
folder's entries already applied are skipped; a gap stops before the gap.
The staging switch is atomic: a crash or a full disk leaves the previous generation.

Options:
  --workspace <dir>        the workspace (created on first import; default ${'$'}XDG_DATA_HOME/export-center-console/workspace)
  --key <pem>              also trust this public key for this command only (recorded in the audit log);
                           repeatable. The workspace's pinned keys are always trusted too, each for its
                           own tenant; a key revoked in the workspace is refused
  --keyring <dir>          also trust every *.pub / *.pem file in this folder for this command
  --identity <file>        age identity file for encrypted bundles (AGE-SECRET-KEY-1… or -PQ-1…); repeatable
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
      const trust = trustFlags(io, values);
      const passphrase = readPassphrase(io, values['passphrase-file']);
      if (values['force-reason'] !== undefined && values['force-reason'].trim().length < 3) throw new OpsError('ERR_USAGE', '--force-reason needs a written reason (for example the change ticket).');
      const paths = positionals.map((p) => resolve(io.cwd, p));
      refuseForeignFolder(dir);
      // A dry run against a workspace that does not exist yet plans against an empty one (not created).
      const scratch = values['dry-run'] && !isWorkspaceDir(dir) ? mkdtempSync(join(tmpdir(), 'okc-plan-')) : null;
      let result: ImportResult;
      let recovery: RecoveryReport;
      try {
        const engine = createEngine(scratch ?? dir, { create: true });
        try {
          const progress = json ? undefined : progressPrinter(io);
          result = await engine.importBundles(paths, {
            trust,
            passphrase,
            forceReason: values['force-reason'],
            operator: values.operator,
            dryRun: !!values['dry-run'],
            signal: io.signal,
            ...(progress ? { onProgress: progress } : {}),
          });
        } finally {
          engine.close();
          recovery = engine.recovery;
        }
      } finally {
        if (scratch) rmSync(scratch, { recursive: true, force: true });
      }
      if (recovery.recovered && !json) io.stderr.write(`note: an interrupted operation was recovered first: ${recovery.recovered.detail}\n`);
      for (const p of recovery.setAside ?? []) if (!json) io.stderr.write(`warning: a leftover of an earlier run could not be removed and was moved to ${p}; remove it when convenient.\n`);
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
          recovered: recovery.recovered,
          setAside: recovery.setAside ?? [],
        });
      }
      else io.stdout.write(formatResult(result) + '\n');
      return exitCodeFor(result.code);
    } catch (e) {
      return reportError(io, e, json);
    }
  },
};
