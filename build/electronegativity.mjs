// `npm test` step: Electronegativity (@doyensec/electronegativity) over
// electron/ and renderer/, scanned together as one project (its global checks
// look across files: a navigation limit in main covers the renderer), with the
// pinned Electron version. Every finding must be accepted, with its reason, in
// build/electronegativity.json; a new finding fails the step, and so does an
// accepted entry that no longer matches anything (the list stays true).
//
// No network: the scanner fetches translations and Electron's release list
// with `got`; here `got` is replaced by a function that fails at once (the
// scanner then uses its bundled English texts), and the release-list check is
// disabled in the config with its reason.
import { mkdtempSync, readFileSync, rmSync, symlinkSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CONFIG_FILE = join(repoRoot, 'build', 'electronegativity.json');

/** Reads and checks the config: each accepted finding and disabled check names itself and gives a reason. */
export function loadConfig(file = CONFIG_FILE) {
  const c = JSON.parse(readFileSync(file, 'utf8'));
  const problems = [];
  if (!Array.isArray(c.roots) || c.roots.length === 0) problems.push('roots: list the folders to scan');
  for (const [i, a] of (c.accepted ?? []).entries()) {
    for (const k of ['id', 'file', 'sample']) if (typeof a[k] !== 'string' || a[k].length === 0) problems.push(`accepted[${i}]: ${k} is required`);
    if (typeof a.reason !== 'string' || a.reason.trim().length < 20) problems.push(`accepted[${i}] (${a.id}): give the reason it is accepted`);
  }
  for (const [i, d] of (c.disabledChecks ?? []).entries()) {
    if (typeof d.check !== 'string' || !/GlobalCheck$|Check$/.test(d.check)) problems.push(`disabledChecks[${i}]: check must be a check class name`);
    if (typeof d.reason !== 'string' || d.reason.trim().length < 20) problems.push(`disabledChecks[${i}] (${d.check}): give the reason it is disabled`);
  }
  if (problems.length > 0) throw new Error(`${file}: ${problems.join('; ')}`);
  return { roots: c.roots, accepted: c.accepted ?? [], disabledChecks: c.disabledChecks ?? [] };
}

/** The Electron version the app is pinned to (package.json optionalDependencies.electron). */
export function pinnedElectron(root = repoRoot) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const v = pkg.optionalDependencies?.electron ?? pkg.devDependencies?.electron;
  if (!v || !/^\d+\.\d+\.\d+$/.test(v)) throw new Error(`package.json pins no exact electron version (found ${JSON.stringify(v)}); the scan needs it.`);
  return v;
}

const scannerDir = join(repoRoot, 'node_modules', '@doyensec', 'electronegativity');

/** Loads the scanner with `got` replaced by an immediate failure (no network, ever). */
function loadScanner() {
  const req = createRequire(join(scannerDir, 'package.json'));
  const offline = () => Promise.reject(new Error('no network in the test suite'));
  for (const from of ['dist/locales', 'dist/finder/checks/GlobalChecks']) {
    const id = req.resolve('got', { paths: [join(scannerDir, from)] });
    req.cache[id] = { id, filename: id, loaded: true, exports: offline, children: [], paths: [] };
  }
  return req('./dist/runner.js');
}

/**
 * Scans the given folders as one project.
 * @param {{ links: [string, string][], electronVersion: string, disabledChecks: string[] }} opts links: [name in the project, folder]
 * @returns {Promise<{ findings: { id: string, file: string, line: number, sample: string, description: string, severity: string, confidence: string }[], errors: unknown[], checks: number }>}
 */
export async function scan({ links, electronVersion, disabledChecks }) {
  const project = mkdtempSync(join(tmpdir(), 'okc-electronegativity-'));
  const quiet = { log: console.log, warn: console.warn, info: console.info };
  try {
    for (const [name, dir] of links) {
      if (!existsSync(dir)) throw new Error(`${dir} does not exist`);
      symlinkSync(dir, join(project, name), 'dir');
    }
    const run = loadScanner();
    // The scanner prints progress and a translation notice through console; the step prints its own summary.
    console.log = console.warn = console.info = () => {};
    const r = await run(
      {
        input: project,
        isRelative: true,
        customScan: [],
        excludeFromScan: disabledChecks.map((c) => c.toLowerCase()),
        parserPlugins: [],
        electronVersionOverride: electronVersion,
      },
      false,
    );
    const findings = r.issues.map((i) => ({
      id: i.id,
      file: i.file,
      line: i.location?.line ?? 0,
      sample: (i.sample ?? '').trim(),
      description: i.description,
      severity: i.severity?.name ?? '?',
      confidence: i.confidence?.name ?? '?',
    }));
    findings.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.id.localeCompare(b.id));
    return { findings, errors: r.errors, checks: r.globalChecks + r.atomicChecks };
  } finally {
    Object.assign(console, quiet);
    rmSync(project, { recursive: true, force: true });
  }
}

/** Pure: which findings are accepted, which are new, which accepted entries match nothing any more. */
export function compare(findings, accepted) {
  const matches = (f, a) => f.id === a.id && f.file === a.file && f.sample === a.sample.trim();
  return {
    accepted: findings.filter((f) => accepted.some((a) => matches(f, a))).map((f) => ({ finding: f, entry: accepted.find((a) => matches(f, a)) })),
    fresh: findings.filter((f) => !accepted.some((a) => matches(f, a))),
    stale: accepted.filter((a) => !findings.some((f) => matches(f, a))),
  };
}

/**
 * The whole check. `extraLinks` adds folders to the scanned project (the test adds a file with a finding).
 * @returns {Promise<{ ok: boolean, lines: string[], fresh: object[], stale: object[], errors: unknown[] }>}
 */
export async function check({ root = repoRoot, configFile = CONFIG_FILE, extraLinks = [] } = {}) {
  const config = loadConfig(configFile);
  const electronVersion = pinnedElectron(root);
  const links = [...config.roots.map((r) => [r, join(root, r)]), ...extraLinks];
  const { findings, errors, checks } = await scan({ links, electronVersion, disabledChecks: config.disabledChecks.map((d) => d.check) });
  const { accepted, fresh, stale } = compare(findings, config.accepted);
  const lines = [`electronegativity: ${checks} checks over ${links.map(([n]) => `${n}/`).join(', ')} as one project (Electron ${electronVersion}); disabled: ${config.disabledChecks.map((d) => d.check).join(', ') || 'none'}`];
  for (const { finding: f } of accepted) lines.push(`  accepted  ${f.id}  ${f.file}:${f.line}  (reason in build/electronegativity.json)`);
  for (const f of fresh) lines.push(`  NEW       ${f.id}  ${f.file}:${f.line}  ${f.severity}/${f.confidence}  ${f.description}\n            ${f.sample}`);
  for (const a of stale) lines.push(`  STALE     ${a.id}  ${a.file}  accepted in build/electronegativity.json but no longer found: remove the entry`);
  for (const e of errors) lines.push(`  UNSCANNED ${typeof e === 'object' && e ? (e.file ?? JSON.stringify(e)) : String(e)}  (the scanner could not parse it)`);
  const ok = fresh.length === 0 && stale.length === 0 && errors.length === 0;
  if (!ok) {
    lines.push(
      fresh.length > 0
        ? `electronegativity: ${fresh.length} new finding(s). Fix them, or (only if it is not a real problem) add each to "accepted" in build/electronegativity.json with its id, file, sample and the reason.`
        : 'electronegativity: the accepted list or the scan is out of date (see above).',
    );
  } else lines.push(`electronegativity: ok (${findings.length} finding(s), all accepted with a reason)`);
  return { ok, lines, fresh, stale, errors };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await check();
  process.stdout.write(`${r.lines.join('\n')}\n`);
  process.exit(r.ok ? 0 : 1);
}
