// Import-cycle check (`npm test` runs it; docs/architecture.md, "Layers").
//
//   node build/check-cycles.mjs [--root <dir>] [--with-types] [<folder>...]
//
// Parses every .ts/.tsx under the folders (default: shared electron renderer/src) with the
// TypeScript compiler API, resolves each static import and re-export the way the typecheck
// does (moduleResolution "Bundler"), and looks for cycles among the files. Each tangle
// (strongly connected set of files) is reported as one readable chain, with the line of each
// import, and the exit code is 1 when there is any.
//
// Counted: `import … from`, `export … from`, `import x = require()`. Not counted:
// - import() expressions: they load on demand, after both modules have finished loading
//   (this is how the CLI's command table stays lazy), so they cannot see a half-loaded module;
// - type-only imports (`import type`, or every named binding `type`): the compiler erases
//   them, so no module waits on another at run time. `--with-types` counts them too (today
//   the repository has no cycle either way).
import ts from 'typescript';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_FOLDERS = ['shared', 'electron', 'renderer/src'];

const COMPILER_OPTIONS = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  resolveJsonModule: true,
  jsx: ts.JsxEmit.ReactJSX,
};

function listSources(dir) {
  const out = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listSources(p));
    else if (/\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** A statement's import is erased by the compiler (only types are named). */
function isTypeOnly(node) {
  if (ts.isImportDeclaration(node)) {
    const c = node.importClause;
    if (!c) return false; // `import './x'`: a side-effect import
    if (c.isTypeOnly) return true;
    if (c.name) return false;
    const b = c.namedBindings;
    if (!b) return false;
    if (ts.isNamespaceImport(b)) return false;
    return b.elements.length > 0 && b.elements.every((el) => el.isTypeOnly);
  }
  if (ts.isExportDeclaration(node)) {
    if (node.isTypeOnly) return true;
    const c = node.exportClause;
    return !!c && ts.isNamedExports(c) && c.elements.length > 0 && c.elements.every((el) => el.isTypeOnly);
  }
  return false;
}

/** The static imports of one file: [{spec, line, typeOnly}]. */
export function staticImports(file, text = readFileSync(file, 'utf8')) {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const out = [];
  const add = (node, specNode) => {
    if (!specNode || !ts.isStringLiteralLike(specNode)) return;
    out.push({ spec: specNode.text, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, typeOnly: isTypeOnly(node) });
  };
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) add(st, st.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(st) && ts.isExternalModuleReference(st.moduleReference)) add(st, st.moduleReference.expression);
  }
  return out;
}

/**
 * The import graph of the folders under `root`: Map(file → [{to, line, spec}]), files absolute.
 * Only edges between the scanned files count (packages and .d.ts files cannot close a cycle here).
 */
export function importGraph({ root = REPO_ROOT, folders = DEFAULT_FOLDERS, typeOnly = false } = {}) {
  const files = folders.flatMap((f) => listSources(resolve(root, f)));
  const known = new Set(files);
  const host = ts.sys;
  const cache = ts.createModuleResolutionCache(root, (x) => x, COMPILER_OPTIONS);
  const graph = new Map();
  for (const file of files) {
    const edges = [];
    for (const imp of staticImports(file)) {
      if (imp.typeOnly && !typeOnly) continue;
      const r = ts.resolveModuleName(imp.spec, file, COMPILER_OPTIONS, host, cache).resolvedModule;
      if (!r || r.isExternalLibraryImport) continue;
      const to = resolve(r.resolvedFileName);
      if (known.has(to)) edges.push({ to, line: imp.line, spec: imp.spec });
    }
    graph.set(file, edges);
  }
  return graph;
}

/** Tarjan's strongly connected components (iterative: deep import chains must not overflow the stack). */
function tangles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const out = [];
  for (const start of graph.keys()) {
    if (idx.has(start)) continue;
    const work = [{ v: start, i: 0 }];
    idx.set(start, index);
    low.set(start, index++);
    stack.push(start);
    onStack.add(start);
    while (work.length) {
      const top = work[work.length - 1];
      const edges = graph.get(top.v) ?? [];
      if (top.i < edges.length) {
        const w = edges[top.i++].to;
        if (!idx.has(w)) {
          idx.set(w, index);
          low.set(w, index++);
          stack.push(w);
          onStack.add(w);
          work.push({ v: w, i: 0 });
        } else if (onStack.has(w)) {
          low.set(top.v, Math.min(low.get(top.v), idx.get(w)));
        }
        continue;
      }
      work.pop();
      if (work.length) low.set(work[work.length - 1].v, Math.min(low.get(work[work.length - 1].v), low.get(top.v)));
      if (low.get(top.v) === idx.get(top.v)) {
        const scc = [];
        let w;
        do {
          w = stack.pop();
          onStack.delete(w);
          scc.push(w);
        } while (w !== top.v);
        const selfLoop = (graph.get(top.v) ?? []).some((e) => e.to === top.v);
        if (scc.length > 1 || selfLoop) out.push(scc.sort());
      }
    }
  }
  return out;
}

/** The shortest cycle through `start` inside one tangle, as its import edges. */
function shortestCycle(graph, start, members) {
  const inside = new Set(members);
  const prev = new Map();
  const queue = [start];
  const seen = new Set([start]);
  while (queue.length) {
    const v = queue.shift();
    for (const e of graph.get(v) ?? []) {
      if (!inside.has(e.to)) continue;
      if (e.to === start) {
        const chain = [{ from: v, ...e }];
        let cur = v;
        while (cur !== start) {
          const p = prev.get(cur);
          chain.unshift(p);
          cur = p.from;
        }
        return chain;
      }
      if (seen.has(e.to)) continue;
      seen.add(e.to);
      prev.set(e.to, { from: v, ...e });
      queue.push(e.to);
    }
  }
  return [];
}

/**
 * Every import cycle, one per tangle: {chain: [{from, line, spec, to}], members: [file]}.
 * File names are relative to `root`, with '/'.
 */
export function findCycles(opts = {}) {
  const root = opts.root ?? REPO_ROOT;
  const graph = importGraph({ ...opts, root });
  const rel = (p) => relative(root, p).split(sep).join('/');
  return tangles(graph).map((members) => {
    const chain = shortestCycle(graph, members[0], members);
    return { chain: chain.map((e) => ({ from: rel(e.from), line: e.line, spec: e.spec, to: rel(e.to) })), members: members.map(rel) };
  });
}

/** The report for an operator: one block per cycle. */
export function formatCycles(cycles) {
  return cycles
    .map((c, i) => {
      const lines = [`cycle ${i + 1}: ${[...c.chain.map((e) => e.from), c.chain[0].from].join(' → ')}`];
      for (const e of c.chain) lines.push(`  ${e.from}:${e.line} imports '${e.spec}' (${e.to})`);
      const others = c.members.filter((m) => !c.chain.some((e) => e.from === m));
      if (others.length) lines.push(`  tangled with it (${others.length} more): ${others.join(', ')}`);
      return lines.join('\n');
    })
    .join('\n\n');
}

function main(argv) {
  let root = REPO_ROOT;
  let typeOnly = false;
  const folders = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--root') root = resolve(argv[++i] ?? '.');
    else if (argv[i] === '--with-types') typeOnly = true;
    else if (argv[i] === '--help') {
      process.stdout.write('usage: node build/check-cycles.mjs [--root <dir>] [--with-types] [<folder>...]\n');
      return 0;
    } else folders.push(argv[i]);
  }
  const scan = folders.length ? folders : DEFAULT_FOLDERS;
  const graph = importGraph({ root, folders: scan, typeOnly });
  const cycles = findCycles({ root, folders: scan, typeOnly });
  const edges = [...graph.values()].reduce((n, e) => n + e.length, 0);
  if (cycles.length) {
    process.stderr.write(`${formatCycles(cycles)}\n\n${cycles.length} import cycle(s) among ${graph.size} files (${scan.join(', ')}). Break each chain: move what both sides need into a module of its own, or have the lower module take it as an argument.\n`);
    return 1;
  }
  process.stdout.write(`no import cycles: ${graph.size} files, ${edges} ${typeOnly ? '' : 'run-time '}imports (${scan.join(', ')})\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
