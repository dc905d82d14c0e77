/** Loads and validates the procedure files in resources/runbooks/. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import { OpsError } from '../../../shared/errors';
import { resourcePath } from '../resources';
import { CHECKS } from './checks';
import { ProcedureSchema, type Procedure } from './schema';

/** `yaml`, loaded when a procedure file is read (every command opens the engine; most never read procedures). */
function parseYaml(text: string): unknown {
  return (createRequire(import.meta.url)('yaml') as typeof Yaml).parse(text);
}

export function defaultRunbookDir(): string {
  return resourcePath('runbooks');
}

/** Parses and validates one procedure file; every automated step must name a registered check. */
export function parseProcedure(text: string, file: string): Procedure {
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new OpsError('ERR_RUNBOOK_INVALID', `The procedure file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message}`, { path: file });
  }
  const r = ProcedureSchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new OpsError('ERR_RUNBOOK_INVALID', `The procedure file ${file} breaks the procedure schema: ${issues}`, { path: file });
  }
  for (const s of r.data.steps) {
    if (s.type === 'automated' && !CHECKS[s.check]) {
      throw new OpsError('ERR_RUNBOOK_INVALID', `The procedure file ${file}: step "${s.id}" names the check "${s.check}", which does not exist. Known checks: ${Object.keys(CHECKS).sort().join(', ')}.`, { path: file });
    }
  }
  return r.data;
}

/** Every procedure in a folder (*.json, *.yaml, *.yml), sorted by section then id. Ids must be unique. */
export function loadProcedures(dir: string = defaultRunbookDir()): Procedure[] {
  if (!existsSync(dir)) throw new OpsError('ERR_RUNBOOK_INVALID', `The runbook folder ${dir} does not exist.`, { path: dir });
  const out: Procedure[] = [];
  const ids = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    if (!/\.(json|ya?ml)$/.test(name)) continue;
    const file = join(dir, name);
    const p = parseProcedure(readFileSync(file, 'utf8'), file);
    if (ids.has(p.id)) throw new OpsError('ERR_RUNBOOK_INVALID', `Two procedure files use the id "${p.id}": ${ids.get(p.id)} and ${file}.`, { path: file });
    ids.set(p.id, file);
    out.push(p);
  }
  const key = (s: string) => s.split('.').map((n) => n.padStart(4, '0')).join('.');
  return out.sort((a, b) => key(a.section).localeCompare(key(b.section)) || a.id.localeCompare(b.id));
}

export function findProcedure(procs: Procedure[], id: string): Procedure {
  const p = procs.find((x) => x.id === id || x.section === id);
  if (!p) throw new OpsError('ERR_USAGE', `No procedure "${id}". Known: ${procs.map((x) => `${x.id} (${x.section})`).join(', ')}. Run \`mirror checklist list\`.`);
  return p;
}
