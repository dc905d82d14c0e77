/** `mirror retention run --workspace <dir> [--dry-run] [--json]` (runbook 5.2). */
import { OpsError } from '../../../shared/errors';
import { parseCommandArgs, type CliIo, type Command } from '../command';
import { formatBytes, printJson, reportError } from '../output';
import { withWorkspace } from '../shared';

const USAGE = `Usage: mirror retention run [--workspace <dir>] [--dry-run] [--json]

Prunes the bundle library by the workspace's retention settings (runbook 5.2):
mirror bundles older than retention.mirrorDays (30) by their export's createdAt,
Trivy bundles beyond the retention.trivyCount (10) newest; always keeping the
latest full bundle and the last retention.keepDeltas (5) deltas after it, and
never a bundle that rebuilding the current generation needs.
Every pruned file is audited (retention.pruned); every run is recorded
(retention.run), even when nothing is pruned.
  --dry-run          show what would be pruned; change and record nothing
  --operator <name>  operator name for the audit log
  --json             one JSON object on stdout`;

const OPTIONS = { workspace: { type: 'string' }, 'dry-run': { type: 'boolean' }, operator: { type: 'string' }, json: { type: 'boolean' } } as const;

export const retentionCommand: Command = {
  name: 'retention',
  summary: 'Prune the bundle library by the retention policy (mirror retention run).',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const json = argv.includes('--json');
    try {
      const { values, positionals } = parseCommandArgs(argv, OPTIONS);
      if (positionals[0] !== 'run' || positionals.length !== 1) throw new OpsError('ERR_USAGE', 'Usage: mirror retention run [--workspace <dir>] [--dry-run] [--json].');
      return await withWorkspace(io, values.workspace, (engine) => {
        const r = engine.retention({ dryRun: !!values['dry-run'], operator: values.operator });
        if (json) printJson(io, { ok: true, code: null, ...r });
        else {
          const lines = [`${r.dryRun ? 'DRY RUN: would prune' : 'Pruned'} ${r.pruned.length} file(s), ${formatBytes(r.freedBytes)}; kept ${r.kept.length}.`];
          for (const p of r.pruned) lines.push(`  prune  ${p.file}  (${p.reason})`);
          for (const k of r.kept) lines.push(`  keep   ${k.file}  (${k.reason})`);
          io.stdout.write(lines.join('\n') + '\n');
        }
        return 0;
      });
    } catch (e) {
      return reportError(io, e, json);
    }
  },
};
