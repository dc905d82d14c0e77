/** `mirror status --workspace <dir> [--deep] [--json]`: what staging holds. */
import { exitCodeFor, OpsError } from '../../../shared/errors';
import { readLockHolder } from '../../services/workspace/index';
import { parseCommandArgs, type CliIo, type Command } from '../command';
import type { HealthReport, HealthStatus } from '../../../shared/health';
import { formatBytes, printJson, reportError } from '../output';
import { withWorkspace } from '../shared';
import { readEngineHolder } from '../engine-link';

const USAGE = `Usage: mirror status [--workspace <dir>] [--deep] [--json]

Shows the current export (exportId, generation, state digest), the kept
generations (for mirror rollback), the bundle library and the last apply result.
  --deep   re-read every staged file and recompute the state digest (mismatches exit 2)
  --json   {exportId, generation, stateDigest, generations[{generation, exportId, appliedAt}],
            library[{file, kind, exportId, generation, sha256}], lastApply,
            lock: null | {pid, host, since, command, alive, stale},
            engine: null | {pid, since, build, alive} (mirror serve on this workspace),
            health: {overall, freshness, chain, storage, lastImport, failures, keys,
                     checklist, retention, ...} (the same report as the app's dashboard)}
The health section (freshness against the staleness budget, the delta chain,
storage against the capacity thresholds, the last import, unacknowledged
failures with their runbook action, keys per tenant, today's daily checklist)
is the engine's one health query: the app's dashboard shows the same figures.
The lock line names who holds the workspace (pid, host, since, command): the
"run stuck" row of the failure table (mirror checklist advice ERR_WORKSPACE_BUSY).`;

const OPTIONS = { workspace: { type: 'string' }, deep: { type: 'boolean' }, json: { type: 'boolean' } } as const;

export const statusCommand: Command = {
  name: 'status',
  summary: 'Show the staged export, kept generations, library and last apply result.',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const json = argv.includes('--json');
    try {
      const { values, positionals } = parseCommandArgs(argv, OPTIONS);
      if (positionals.length) throw new OpsError('ERR_USAGE', `mirror status takes no positional argument (got "${positionals[0]}"); use --workspace <dir>.`);
      const { ws, st, health } = await withWorkspace(io, values.workspace, async (e) => ({ ws: e.ws, st: await e.status({ deep: !!values.deep, signal: io.signal }), health: await e.health() }));
      const code = st.deep && !st.deep.ok ? st.deep.code : null;
      const lock = readLockHolder(ws);
      const engine = readEngineHolder(ws.dir);
      if (json) {
        printJson(io, { exportId: st.exportId, generation: st.generation, stateDigest: st.stateDigest, generations: st.generations, library: st.library, lastApply: st.lastApply, lock, engine, health });
        if (st.deep && !st.deep.ok) io.stderr.write(`${st.deep.message}\n`);
      } else {
        const lines: string[] = [];
        lines.push(`workspace: ${ws.dir}`);
        if (engine) lines.push(engine.alive ? `engine: mirror serve (pid ${engine.pid}, since ${engine.since}) serves this workspace: imports on it run there` : `engine: none (the last one, pid ${engine.pid}, was killed; its socket is ignored and the next mirror serve takes it over)`);
        if (!lock) lines.push('lock: free');
        else if (lock.stale) lines.push(`lock: left by pid ${lock.pid} on ${lock.host} since ${lock.since} (${lock.command}), which no longer runs: the next command takes it over`);
        else lines.push(`lock: held by pid ${lock.pid} on ${lock.host} since ${lock.since}: ${lock.command}${lock.alive === null ? ' (another host: cannot tell whether it still runs)' : ''}`);
        if (st.exportId === null) lines.push('staging: nothing staged yet (import a full bundle first)');
        else {
          lines.push(`staging: ${st.exportId} generation ${st.generation} (${st.current?.folder}, ${st.current?.fileCount} files, ${formatBytes(st.current?.totalBytes ?? 0)})`);
          lines.push(`state digest: ${st.stateDigest}${st.deep ? (st.deep.ok ? ' (recomputed from the files: matches the signed state)' : ' (recomputed from the files: DOES NOT match the signed state)') : ''}`);
          if (st.chain) lines.push(`chain: tenant ${st.chain.tenant}, profile ${st.chain.profileId}`);
        }
        if (st.importsFrozen) lines.push(`imports FROZEN since ${st.importsFrozen.since}: ${st.importsFrozen.reason ?? ''}`);
        lines.push('kept generations:');
        for (const g of st.generations) lines.push(`  ${g.generation === st.generation && g.exportId === st.exportId ? '*' : ' '} ${String(g.generation).padStart(4)}  ${g.exportId}  applied ${g.appliedAt}`);
        lines.push('library:');
        if (!st.library.length) lines.push('  (empty)');
        for (const l of st.library) lines.push(`    ${l.kind.padEnd(13)} ${l.exportId ?? ''}${l.generation !== null ? ` (generation ${l.generation})` : ''}  ${l.file}`);
        for (const t of st.trivy) lines.push(`trivy: ${t.kind} installed ${t.installedAt} at ${t.path}`);
        if (st.lastApply) lines.push(`last apply: ${st.lastApply.ok ? 'ok' : `FAILED [${String(st.lastApply.code)}] ${String(st.lastApply.message ?? '')}`} at ${String(st.lastApply.at)}`);
        lines.push(...healthLines(health));
        if (st.deep && !st.deep.ok) {
          lines.push(st.deep.message);
          for (const f of st.deep.failures ?? []) lines.push(`  [${f.code}] ${f.path ?? ''} ${f.message}`);
        }
        io.stdout.write(lines.join('\n') + '\n');
      }
      return exitCodeFor(code);
    } catch (e) {
      return reportError(io, e, json);
    }
  },
};

const MARK: Record<HealthStatus, string> = { pass: 'ok', warn: 'WARN', fail: 'FAIL', unknown: 'UNKNOWN' };

/** The health report as text lines (the same figures as the dashboard). */
export function healthLines(h: HealthReport): string[] {
  const l: string[] = [`health: ${MARK[h.overall]}`];
  const row = (name: string, s: HealthStatus, text: string) => l.push(`  ${name.padEnd(10)} ${MARK[s].padEnd(7)} ${text}`);
  row('freshness', h.freshness.status, h.freshness.summary);
  row('chain', h.chain.status, h.chain.summary);
  if (h.chain.points.length) l.push(`             ${h.chain.points.map((p) => `${p.generation}:${p.kind === 'full' ? 'F' : 'd'}${p.state === 'current' ? '*' : p.state === 'missing' ? '?' : p.state === 'failed' ? '!' : p.state === 'library' ? '+' : ''}`).join(' ')}  (F full, d delta, * current, + in library only, ? missing, ! failed)`);
  row('storage', h.storage.status, `staging ${formatBytes(h.storage.stagingBytes)} + library ${formatBytes(h.storage.libraryBytes)} = ${formatBytes(h.storage.usedBytes)} (warn ${formatBytes(h.storage.thresholds.warnBytes)}, fail ${formatBytes(h.storage.thresholds.failBytes)}); ${h.storage.freeBytes === null ? 'free space unknown' : `${formatBytes(h.storage.freeBytes)} free`}`);
  row('import', h.lastImport.status, h.lastImport.summary);
  row('failures', h.failures.status, h.failures.summary);
  for (const f of h.failures.items.slice(0, 5)) l.push(`             ${f.ts} ${f.event}${f.code ? ` [${f.code}]` : ''}${f.advice ? ` -> ${f.advice.action}` : ''}`);
  row('keys', h.keys.status, h.keys.summary);
  for (const t of h.keys.tenants) l.push(`             tenant ${t.tenant}: ${t.active} active key(s)${t.seen ? '' : ' (no data seen yet)'}`);
  row('checklist', h.checklist.status, h.checklist.summary);
  row('retention', h.retention.status, h.retention.summary);
  return l;
}
