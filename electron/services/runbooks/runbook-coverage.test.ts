/**
 * Runbook fidelity: every offline-relevant step of the runbook (kept as data
 * in resources/runbooks/source/runbook-steps.json, checked against the
 * runbook text itself) is implemented by a procedure step that names it, and
 * every procedure names its section and the runbook steps it implements.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, SHARED_DIR } from '../testing/fixtures';
import { loadProcedures } from './index';

const RUNBOOK = join(SHARED_DIR, 'seed', '000_d554fe04a0159208.txt');
const DATA = join(REPO_ROOT, 'resources', 'runbooks', 'source', 'runbook-steps.json');

interface RunbookStep {
  section: string;
  text: string;
  offline: boolean;
  why?: string;
}

const collapse = (s: string) => s.replace(/\s+/g, ' ').trim();
const data = JSON.parse(readFileSync(DATA, 'utf8')) as { steps: RunbookStep[] };
const procs = loadProcedures();
const implemented = new Map<string, string[]>(); // "section|text" → procedure/step ids
for (const p of procs) {
  for (const s of p.steps) {
    const texts = s.runbookStep === undefined ? [] : Array.isArray(s.runbookStep) ? s.runbookStep : [s.runbookStep];
    for (const t of texts) {
      const k = `${p.section}|${collapse(t)}`;
      implemented.set(k, [...(implemented.get(k) ?? []), `${p.id}/${s.id}`]);
    }
  }
}

describe('runbook coverage', () => {
  it.skipIf(!existsSync(RUNBOOK))('every listed step is in the runbook text, as written', () => {
    // The runbook was flattened from HTML: inline code lost its surrounding spaces, so compare without any whitespace (or the commands' line-continuation backslashes).
    const bare = (s: string) => s.replace(/[\s\\]+/g, ''); // and shell line continuations
    const text = bare(readFileSync(RUNBOOK, 'utf8'));
    const missing = data.steps.filter((s) => !text.includes(bare(s.text)));
    expect(missing.map((s) => `${s.section}: ${s.text}`)).toEqual([]);
  });

  it('every offline-relevant runbook step has a procedure step naming it; the others say why not', () => {
    const uncovered = data.steps.filter((s) => s.offline && !implemented.has(`${s.section}|${collapse(s.text)}`));
    expect(uncovered.map((s) => `${s.section}: ${s.text}`)).toEqual([]);
    for (const s of data.steps.filter((x) => !x.offline)) expect(s.why, s.text).toMatch(/\w{3}/);
  });

  it('every runbookStep a procedure names is a listed runbook step of its own section', () => {
    const listed = new Set(data.steps.map((s) => `${s.section}|${collapse(s.text)}`));
    const unknown = [...implemented.entries()].filter(([k]) => !listed.has(k)).map(([k, v]) => `${v.join(', ')} → ${k}`);
    expect(unknown).toEqual([]);
  });

  it('every section with offline steps has a procedure, and each procedure names the runbook steps it implements', () => {
    const sections = new Set(data.steps.filter((s) => s.offline).map((s) => s.section));
    for (const sec of sections) expect(procs.some((p) => p.section === sec), `section ${sec}`).toBe(true);
    for (const p of procs) expect(p.steps.some((s) => s.runbookStep !== undefined), `${p.id} names no runbook step`).toBe(true);
    expect(procs.map((p) => p.section)).toEqual(expect.arrayContaining(['5.2', '9']));
  });
});
