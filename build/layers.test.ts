/**
 * The layer guards fail when they should: each forbidden import is linted
 * with the repository's own eslint.config.js (ESLint's Node API, a virtual
 * file inside the layer), and the import-cycle check runs on small trees
 * written to a temp folder.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ESLint } from 'eslint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../electron/services/testing/fixtures';

let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: REPO_ROOT });
});

/** The layer-rule messages ESLint reports for `code` as if it were the file `file` (repo-relative). */
async function lint(file: string, code: string): Promise<{ rule: string | null; message: string }[]> {
  const [res] = await eslint.lintText(code, { filePath: join(REPO_ROOT, file) });
  return res.messages.filter((m) => m.severity === 2).map((m) => ({ rule: m.ruleId, message: m.message }));
}

const layerErrors = async (file: string, code: string) => (await lint(file, code)).filter((m) => m.rule?.startsWith('layers/') || m.rule === 'no-restricted-imports');

describe('lint refuses a forbidden import in each layer', () => {
  const forbidden: [string, string, string, RegExp][] = [
    // [what, virtual file, code, expected message]
    ['main → services (the composition root too)', 'electron/main/probe.ts', "import { createEngine } from '../services/engine';\nexport const e = createEngine;\n", /electron\/main may not import electron\/services\/engine\.ts/],
    ['main → a service module', 'electron/main/probe.ts', "import { verifyPath } from '../services/verify/index';\nexport const v = verifyPath;\n", /electron\/main may not import electron\/services\/verify\/index\.ts/],
    ['main → renderer', 'electron/main/probe.ts', "import { App } from '../../renderer/src/app/App';\nexport const a = App;\n", /electron\/main may not import renderer\/src\/app\/App\.tsx/],
    ['main → a CLI command (only the CLI entry is allowed)', 'electron/main/probe.ts', "import { verifyCommand } from '../cli/commands/verify';\nexport const c = verifyCommand;\n", /electron\/main may not import electron\/cli\/commands\/verify\.ts/],
    ['cli → ipc', 'electron/cli/probe.ts', "import { createHandlers } from '../ipc/handlers';\nexport const h = createHandlers;\n", /electron\/cli may not import electron\/ipc\/handlers\.ts/],
    ['a command → ipc', 'electron/cli/commands/probe.ts', "import { openConsoleEngine } from '../../ipc/engine';\nexport const o = openConsoleEngine;\n", /may not import electron\/ipc\/engine\.ts/],
    ['ipc → cli', 'electron/ipc/probe.ts', "import { withWorkspace } from '../cli/shared';\nexport const w = withWorkspace;\n", /electron\/ipc may not import electron\/cli\/shared\.ts/],
    ['ipc → main', 'electron/ipc/probe.ts', "import { headlessCliArgs } from '../main/headless';\nexport const h = headlessCliArgs;\n", /electron\/ipc may not import electron\/main\/headless\.ts/],
    ['services → ipc', 'electron/services/probe.ts', "import { createHandlers } from '../ipc/handlers';\nexport const h = createHandlers;\n", /electron\/services may not import electron\/ipc\/handlers\.ts/],
    ['services → cli', 'electron/services/staging/probe.ts', "import { printJson } from '../../cli/output';\nexport const p = printJson;\n", /electron\/services may not import electron\/cli\/output\.ts/],
    ['preload → services', 'electron/preload/probe.ts', "import { APP_VERSION } from '../services/version';\nexport const v = APP_VERSION;\n", /electron\/preload may not import electron\/services\/version\.ts/],
    ['preload → ipc', 'electron/preload/probe.ts', "import { createHandlers } from '../ipc/handlers';\nexport const h = createHandlers;\n", /electron\/preload may not import electron\/ipc\/handlers\.ts/],
    ['shared → services', 'shared/probe.ts', "import { APP_VERSION } from '../electron/services/version';\nexport const v = APP_VERSION;\n", /shared may not import electron\/services\/version\.ts/],
    ['renderer → ipc', 'renderer/src/features/probe.ts', "import { createHandlers } from '../../../electron/ipc/handlers';\nexport const h = createHandlers;\n", /renderer may not import electron\/ipc\/handlers\.ts/],
    ['browser shell → main (other than renderer-files)', 'electron/browser/probe.ts', "import { headlessCliArgs } from '../main/headless';\nexport const h = headlessCliArgs;\n", /electron\/browser may not import electron\/main\/headless\.ts/],
    ['a path that detours through an allowed folder', 'electron/main/probe.ts', "import { createEngine } from '../ipc/../services/engine';\nexport const e = createEngine;\n", /electron\/main may not import electron\/services\/engine\.ts/],
    ['a re-export', 'electron/main/probe.ts', "export { createEngine } from '../services/engine';\n", /electron\/main may not import electron\/services\/engine\.ts/],
    ['a type-only import', 'electron/main/probe.ts', "import type { Engine } from '../services/engine';\nexport type E = Engine;\n", /electron\/main may not import electron\/services\/engine\.ts/],
  ];
  it.each(forbidden)('%s', async (_what, file, code, expected) => {
    const errors = await layerErrors(file, code);
    expect(errors.map((e) => e.rule)).toContain('layers/allowed-imports');
    expect(errors.map((e) => e.message).join('\n')).toMatch(expected);
  });

  it("a bare folder import ('../../ipc', '../services/audit') names the module file to import instead", async () => {
    const bare = await layerErrors('electron/cli/commands/probe.ts', "import * as ipc from '../../ipc';\nexport const i = ipc;\n");
    expect(bare).toContainEqual({ rule: 'layers/explicit-module', message: expect.stringMatching(/'\.\.\/\.\.\/ipc' is a folder/) });
    // The same import also crosses cli → ipc.
    expect(bare.map((e) => e.rule)).toContain('layers/allowed-imports');

    const withIndex = await layerErrors('electron/ipc/probe.ts', "import { appendAudit } from '../services/audit';\nexport const a = appendAudit;\n");
    expect(withIndex).toEqual([{ rule: 'layers/explicit-module', message: expect.stringMatching(/'\.\.\/services\/audit' is a folder: import the module file itself \('\.\.\/services\/audit\/index'\)/) }]);
    expect(await layerErrors('electron/services/probe.ts', "import { openDatabase } from '.';\nexport const o = openDatabase;\n")).toContainEqual(expect.objectContaining({ rule: 'layers/explicit-module' }));
  });

  it('a CLI command imports no other command, statically or with import()', async () => {
    const stat = await layerErrors('electron/cli/commands/probe.ts', "import { statusCommand } from './status';\nexport const s = statusCommand;\n");
    expect(stat).toEqual([{ rule: 'layers/allowed-imports', message: expect.stringMatching(/may not import electron\/cli\/commands\/status\.ts: commands do not import each other/) }]);
    const dyn = await layerErrors('electron/cli/commands/probe.ts', "export const load = () => import('./keys');\n");
    expect(dyn.map((e) => e.rule)).toEqual(['layers/allowed-imports']);
  });

  it('the command table loads commands with import() only: a static import there is refused', async () => {
    const errors = await layerErrors('electron/cli/commands/index.ts', "import { verifyCommand } from './verify';\nexport const commands = [verifyCommand];\n");
    expect(errors).toEqual([{ rule: 'layers/allowed-imports', message: expect.stringMatching(/a static import would load them all/) }]);
    expect(await layerErrors('electron/cli/commands/index.ts', "export const load = async () => (await import('./verify')).verifyCommand;\n")).toEqual([]);
  });

  it('package rules stay: electron in the engine, Node built-ins in the preload and the renderer', async () => {
    expect((await layerErrors('electron/services/probe.ts', "import { app } from 'electron';\nexport const a = app;\n")).map((e) => e.rule)).toEqual(['no-restricted-imports']);
    expect((await layerErrors('electron/preload/probe.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n")).map((e) => e.rule)).toEqual(['no-restricted-imports']);
    expect((await layerErrors('renderer/src/probe.ts', "import { join } from 'node:path';\nexport const j = join;\n")).map((e) => e.rule)).toEqual(['no-restricted-imports']);
  });

  it('the arrows the design draws pass', async () => {
    const allowed: [string, string][] = [
      ['electron/main/probe.ts', "import { createHandlers } from '../ipc/handlers';\nimport { main } from '../cli/mirror';\nexport const x = [createHandlers, main];\n"],
      ['electron/ipc/probe.ts', "import { createEngine } from '../services/engine';\nexport const e = createEngine;\n"],
      ['electron/cli/commands/probe.ts', "import { createEngine } from '../../services/engine';\nimport { printJson } from '../output';\nimport { withWorkspace } from '../shared';\nexport const x = [createEngine, printJson, withWorkspace];\n"],
      ['electron/browser/probe.ts', "import { createHandlers } from '../ipc/handlers';\nimport { serveRendererRequest } from '../main/renderer-files';\nexport const x = [createHandlers, serveRendererRequest];\n"],
      ['electron/preload/probe.ts', "import { CHANNEL_NAMES } from '../../shared/channels';\nexport const c = CHANNEL_NAMES;\n"],
      ['renderer/src/probe.ts', "import { CHANNELS } from '../../shared/contract';\nexport const c = CHANNELS;\n"],
      // Tests may use the test helpers.
      ['electron/main/probe.test.ts', "import { tempDir } from '../services/testing/fixtures';\nexport const t = tempDir;\n"],
    ];
    for (const [file, code] of allowed) expect(await layerErrors(file, code), file).toEqual([]);
  });
});

describe('import-cycle check (build/check-cycles.mjs)', () => {
  let t: ReturnType<typeof tempDir>;
  beforeAll(() => {
    t = tempDir('okc-cycles-');
  });
  afterAll(() => t.cleanup());

  function tree(name: string, files: Record<string, string>): string {
    const root = join(t.dir, name);
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, rel)), { recursive: true });
      writeFileSync(join(root, rel), text);
    }
    return root;
  }
  const check = (root: string, ...args: string[]) => {
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'build/check-cycles.mjs'), '--root', root, ...args], { encoding: 'utf8' });
    return { status: r.status, out: r.stdout + r.stderr };
  };

  it('reports a cycle as a readable chain with each import line, and exits 1', () => {
    const root = tree('cyclic', {
      'shared/a.ts': "import { b } from '../electron/services/b';\nexport const a = () => b();\n",
      'electron/services/b.ts': "// b\nimport { c } from '../../renderer/src/c';\nexport const b = () => c();\n",
      'renderer/src/c.tsx': "import { a } from '../../shared/a';\nexport const c = () => a;\n",
      'shared/d.ts': "import { a } from './a';\nexport const d = a;\n",
    });
    const r = check(root);
    expect(r.status).toBe(1);
    expect(r.out).toContain('cycle 1: electron/services/b.ts → renderer/src/c.tsx → shared/a.ts → electron/services/b.ts');
    expect(r.out).toContain("electron/services/b.ts:2 imports '../../renderer/src/c' (renderer/src/c.tsx)");
    expect(r.out).toContain("shared/a.ts:1 imports '../electron/services/b' (electron/services/b.ts)");
    expect(r.out).toContain('1 import cycle(s)');
    // d.ts imports into the cycle but is not part of it.
    expect(r.out).not.toContain('shared/d.ts');
  });

  it('reports every separate cycle, a re-export and a self-import included', () => {
    const root = tree('several', {
      'electron/x/index.ts': "export { exportIt } from './export';\nexport const head = 1;\n",
      'electron/x/export.ts': "import { head } from './index';\nexport const exportIt = head;\n",
      'shared/self.ts': "import * as me from './self';\nexport const s = me;\n",
    });
    const r = check(root);
    expect(r.status).toBe(1);
    expect(r.out).toContain('electron/x/export.ts → electron/x/index.ts → electron/x/export.ts');
    expect(r.out).toContain('shared/self.ts → shared/self.ts');
    expect(r.out).toContain('2 import cycle(s)');
  });

  it('passes an acyclic tree; import() and type-only imports do not count unless asked', () => {
    const root = tree('acyclic', {
      'shared/types.ts': "export interface T { n: number }\n",
      'shared/a.ts': "import type { T } from './types';\nimport { b } from './b';\nexport const a = (t: T) => b(t.n);\n",
      'shared/b.ts': "export const b = (n: number) => n + 1;\nexport const later = () => import('./a');\n",
      'electron/services/s.ts': "import { a } from '../../shared/a';\nimport type { Only } from './t';\nexport const s = a;\nexport type S = Only;\n",
      'electron/services/t.ts': "import { type S } from './s';\nexport type Only = S | number;\n",
      'renderer/src/r.tsx': "import { b } from '../../shared/b';\nexport const r = b;\n",
    });
    const r = check(root);
    expect(r.out).toMatch(/no import cycles: 6 files/);
    expect(r.status).toBe(0);
    const withTypes = check(root, '--with-types');
    expect(withTypes.status).toBe(1);
    expect(withTypes.out).toContain('electron/services/s.ts → electron/services/t.ts → electron/services/s.ts');
  });
});
