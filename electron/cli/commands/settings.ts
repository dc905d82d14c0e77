/** `mirror settings list|get|set`: the workspace settings, validated and audited (no editing workspace.json by hand). */
import { existsSync, rmSync } from 'node:fs';
import { OpsError } from '../../../shared/errors';
import { getSetting, listSettings } from '../../services/settings/index';
import type { Engine } from '../../services/engine';
import { parseCommandArgs, type CliIo, type Command } from '../command';
import { printJson, reportError } from '../output';
import { refuseForeignFolder, withWorkspace, workspaceDirFrom } from '../shared';

const USAGE = `Usage:
  mirror settings list [--workspace <dir>] [--json]
      Every setting with its value, default and allowed range.
  mirror settings get <name> [--workspace <dir>] [--json]
  mirror settings set <name> <value> --reason "<change record>" [--operator <name>] [--workspace <dir>] [--json]
      Validated (a bad value names the setting and its allowed range; nothing changes) and
      written to the audit log (settings.changed: from, to, reason). Sizes take units: 200GiB.
      Creates the workspace when it does not exist yet, so a limit can be raised before the
      first import (for example limits.maxMembers for a bundle of more than 1,000,000 members).
Names: operator, keepGenerations, stalenessHours, retention.mirrorDays, retention.trivyCount,
retention.keepDeltas, capacity.warnBytes, capacity.failBytes, capacity.warnFreeBytes,
capacity.failFreeBytes, limits.maxTotalBytes, limits.maxMemberBytes, limits.maxMembers,
limits.maxRatio, limits.ratioGraceBytes, limits.maxDepth.`;

const OPTIONS = { workspace: { type: 'string' }, reason: { type: 'string' }, operator: { type: 'string' }, json: { type: 'boolean' } } as const;

function show(v: unknown): string {
  return typeof v === 'string' ? (v === '' ? '""' : v) : JSON.stringify(v);
}

type Values = { workspace?: string; reason?: string; operator?: string; json?: boolean };

function runSub(engine: Engine, sub: string | undefined, rest: string[], values: Values, io: CliIo, json: boolean): number {
  const ws = engine.ws;
  switch (sub) {
    case 'list': {
      const all = listSettings(ws);
      if (json) printJson(io, { settings: all });
      else for (const s of all) io.stdout.write(`${s.key.padEnd(24)} ${show(s.value).padEnd(16)} (default ${show(s.default)}; ${s.allowed})\n`);
      return 0;
    }
    case 'get': {
      if (rest.length !== 1) throw new OpsError('ERR_USAGE', 'mirror settings get takes one setting name (see mirror settings list).');
      const s = getSetting(ws, rest[0]);
      if (json) printJson(io, s);
      else io.stdout.write(`${s.key} = ${show(s.value)}  (default ${show(s.default)}; ${s.allowed})\n`);
      return 0;
    }
    case 'set': {
      if (rest.length !== 2) throw new OpsError('ERR_USAGE', 'mirror settings set takes a setting name and a value, e.g. mirror settings set retention.keepDeltas 5 --reason "CHG-12".');
      const r = engine.setSetting(rest[0], rest[1], { reason: values.reason ?? '', operator: values.operator });
      if (json) printJson(io, { ok: true, key: rest[0], from: r.from, to: r.to });
      else io.stdout.write(`${rest[0]}: ${show(r.from)} → ${show(r.to)} (recorded in the audit log with the reason)\n`);
      return 0;
    }
    default:
      throw new OpsError('ERR_USAGE', `Unknown settings sub-command "${sub ?? ''}". Use list, get or set.\n${USAGE}`);
  }
}

export const settingsCommand: Command = {
  name: 'settings',
  summary: 'Show or change workspace settings (validated, audited with a reason)',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const json = argv.includes('--json');
    try {
      const { values, positionals } = parseCommandArgs(argv, OPTIONS);
      const [sub, ...rest] = positionals;
      // Only a change creates a workspace (list/get of a missing one stay an error), so a limit can be raised before the first import.
      const create = sub === 'set' && rest.length === 2;
      const dir = workspaceDirFrom(io, values.workspace);
      if (create) refuseForeignFolder(dir);
      const fresh = create && !existsSync(dir);
      try {
        return await withWorkspace(io, values.workspace, (engine) => runSub(engine, sub, rest, values, io, json), { create });
      } catch (e) {
        // A refused change leaves no workspace behind that it created itself.
        if (fresh) rmSync(dir, { recursive: true, force: true });
        throw e;
      }
    } catch (e) {
      return reportError(io, e, json);
    }
  },
};
