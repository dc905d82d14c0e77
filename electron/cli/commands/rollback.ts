/** `mirror rollback --workspace <dir> [--to <generation>] [--json]`. */
import { OpsError } from '../../../shared/errors';
import { parseCommandArgs, type CliIo, type Command } from '../command';
import { printJson, reportError } from '../output';
import { withWorkspace } from '../shared';

const USAGE = `Usage: mirror rollback [--workspace <dir>] [--to <generation>] [--reason "<text>"] [--json]

Returns staging to a kept generation (default: the newest one older than the
current). The target is deep-verified first (every file re-hashed against its
signed state); the switch is atomic and audited. A later delta must then apply
on top of the generation rolled back to.
  --to <generation>   the export generation to return to (see mirror status)
  --reason "<text>"   recorded in the audit log
  --operator <name>   operator name for the audit log
  --json              one JSON object on stdout`;

const OPTIONS = { workspace: { type: 'string' }, to: { type: 'string' }, reason: { type: 'string' }, operator: { type: 'string' }, json: { type: 'boolean' } } as const;

export const rollbackCommand: Command = {
  name: 'rollback',
  summary: 'Return staging to a kept generation (deep-verified, atomic, audited).',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const json = argv.includes('--json');
    try {
      const { values, positionals } = parseCommandArgs(argv, OPTIONS);
      if (positionals.length) throw new OpsError('ERR_USAGE', `mirror rollback takes no positional argument (got "${positionals[0]}"); use --to <generation>.`);
      let to: number | undefined;
      if (values.to !== undefined) {
        if (!/^\d+$/.test(values.to)) throw new OpsError('ERR_USAGE', `--to expects an export generation number (see mirror status), got "${values.to}".`);
        to = Number(values.to);
      }
      return await withWorkspace(io, values.workspace, async (engine) => {
        const r = await engine.rollback({ to, reason: values.reason, operator: values.operator, signal: io.signal });
        if (json) {
          printJson(io, { ok: true, code: null, message: `Rolled back to generation ${r.to.generation} (${r.to.exportId}).`, from: r.from, to: r.to, verdict: r.verdict });
        } else {
          io.stdout.write(`ROLLED BACK from ${r.from ? `generation ${r.from.generation} (${r.from.exportId})` : 'nothing'} to generation ${r.to.generation} (${r.to.exportId}); deep verification: ${r.verdict.stats.files} files match the signed state ${r.to.stateDigest}.\n`);
        }
        return 0;
      });
    } catch (e) {
      return reportError(io, e, json);
    }
  },
};
