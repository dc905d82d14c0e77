// `npm test` preflight: the system tools the suite runs (age, age-keygen, zstd,
// openssl, sqlite3, a Chromium, xvfb-run). Missing ones are installed with
// apt-get when this runs as root on a system that has it; otherwise the run
// stops at once with the exact command to type.
//
// The decision is a pure function (`decide`) over injected probes, so the test
// (build/preflight.test.ts) proves it without touching the system.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** Debian's Chromium and the other Chromium-family browsers the suite and the browser shell accept, in order. */
export const CHROMIUM_CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome', 'microsoft-edge-stable', 'microsoft-edge'];

/**
 * What the suite needs: a tool is present when one of its commands resolves.
 * `apt` is the Debian package providing it; `why` is said when it is installed.
 */
export const TOOLS = [
  { name: 'age', commands: ['age'], apt: 'age', why: 'age-encrypted bundle tests' },
  { name: 'age-keygen', commands: ['age-keygen'], apt: 'age', why: 'age identities for the encryption tests' },
  { name: 'zstd', commands: ['zstd'], apt: 'zstd', why: 'the manual pipelines the bundles are compared with' },
  { name: 'openssl', commands: ['openssl'], apt: 'openssl', why: 'signatures made by the reference tool' },
  { name: 'sqlite3', commands: ['sqlite3'], apt: 'sqlite3', why: 'audit-log tamper tests' },
  { name: 'Chromium', commands: CHROMIUM_CANDIDATES, env: 'OKC_CHROMIUM', apt: 'chromium', why: 'the renderer e2e and the browser shell' },
  { name: 'xvfb-run', commands: ['xvfb-run'], apt: 'xvfb', why: 'a virtual display for the windowed e2e' },
];

/** Resolves a command on PATH (or an absolute path) to an executable file, or null. */
export function which(command, env = process.env, isExecutable = defaultIsExecutable) {
  if (isAbsolute(command)) return isExecutable(command) ? command : null;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function defaultIsExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Where each tool is (or null): an explicit env override wins (and must exist).
 * @returns {{ name: string, apt: string, why: string, path: string | null }[]}
 */
export function probeTools(tools = TOOLS, env = process.env, find = (c) => which(c, env)) {
  return tools.map((t) => {
    let path = null;
    if (t.env && env[t.env]) path = find(env[t.env]);
    else for (const c of t.commands) if ((path = find(c))) break;
    return { name: t.name, apt: t.apt, why: t.why, path };
  });
}

/**
 * The decision, pure.
 * @param {{ probed: { name: string, apt: string, why: string, path: string | null }[], isRoot: boolean, hasApt: boolean }} facts
 * @returns {{ action: 'ok' } | { action: 'install', packages: string[], commands: string[][], message: string } | { action: 'stop', packages: string[], command: string, message: string }}
 */
export function decide({ probed, isRoot, hasApt }) {
  const missing = probed.filter((p) => !p.path);
  if (missing.length === 0) return { action: 'ok' };
  const packages = [...new Set(missing.map((m) => m.apt))];
  const what = missing.map((m) => `${m.name} (${m.why})`).join(', ');
  if (hasApt && isRoot) {
    return {
      action: 'install',
      packages,
      commands: [
        ['apt-get', 'update'],
        ['apt-get', 'install', '-y', '--no-install-recommends', ...packages],
      ],
      message: `preflight: installing ${packages.join(' ')} with apt-get, because the tests need ${what}.`,
    };
  }
  const command = hasApt
    ? `sudo apt-get update && sudo apt-get install -y --no-install-recommends ${packages.join(' ')}`
    : `install ${missing.map((m) => m.name).join(', ')} with this system's package manager (Debian package names: ${packages.join(' ')}); for a Chromium elsewhere set OKC_CHROMIUM=/path/to/chromium`;
  const reason = hasApt ? 'this is not root, so it cannot install them itself' : 'this system has no apt-get';
  return {
    action: 'stop',
    packages,
    command,
    message: `preflight: the tests need ${what}, which ${missing.length === 1 ? 'is' : 'are'} missing, and ${reason}. Run:\n  ${command}\nthen npm test again.`,
  };
}

/**
 * Runs the preflight with injectable probes and executor.
 * @returns {{ ok: boolean, env: Record<string,string> }} env: settings the test steps should inherit (the Chromium found).
 */
export function runPreflight({
  env = process.env,
  probe = () => probeTools(TOOLS, env),
  isRoot = process.getuid?.() === 0,
  hasApt = which('apt-get', env) !== null,
  exec = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', env: { ...env, DEBIAN_FRONTEND: 'noninteractive' } }).status ?? 1,
  log = (line) => process.stdout.write(`${line}\n`),
} = {}) {
  let probed = probe();
  const d = decide({ probed, isRoot, hasApt });
  if (d.action === 'stop') {
    log(d.message);
    return { ok: false, env: {} };
  }
  if (d.action === 'install') {
    log(d.message);
    for (const [cmd, ...args] of d.commands) {
      const status = exec(cmd, args);
      if (status !== 0) {
        log(`preflight: \`${[cmd, ...args].join(' ')}\` failed (exit ${status}); install ${d.packages.join(' ')} by hand and run npm test again.`);
        return { ok: false, env: {} };
      }
    }
    probed = probe();
    const still = probed.filter((p) => !p.path).map((p) => p.name);
    if (still.length > 0) {
      log(`preflight: still missing after apt-get: ${still.join(', ')}.`);
      return { ok: false, env: {} };
    }
  }
  const chromium = probed.find((p) => p.name === 'Chromium')?.path;
  return { ok: true, env: chromium ? { OKC_CHROMIUM: chromium } : {} };
}
