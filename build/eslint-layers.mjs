// The repository's own ESLint rules for the layer arrows (docs/architecture.md, "Layers").
// They judge an import by the file it RESOLVES to on disk, not by the spelling of its
// path, so '../main/../services/engine' or '../../electron/services/x' cannot slip past
// a pattern. Bare package names (electron, react, node:*) stay with no-restricted-imports.
//
//   layers/allowed-imports   a file in one layer imports only from the folders its layer may use
//   layers/explicit-module   a relative import names a module file, never a bare folder ('../ipc')
import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const EXTENSIONS = ['.ts', '.tsx', '.d.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '.json'];

function isFile(p) {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDir(p) {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Where a relative specifier leads, as the bundler resolution (tsconfig "moduleResolution":
 * "Bundler") finds it: the file itself, the file with an extension, a '.js' spelling of a
 * '.ts' file, or else a folder (which would load the folder's index: a bare folder import).
 * @returns {{kind: 'file' | 'dir', path: string} | null}
 */
export function resolveRelative(fromFile, spec) {
  const target = resolve(dirname(fromFile), spec);
  if (isFile(target)) return { kind: 'file', path: target };
  for (const ext of EXTENSIONS) if (isFile(target + ext)) return { kind: 'file', path: target + ext };
  const m = /\.(m|c)?js$/.exec(target);
  if (m) {
    const ts = target.slice(0, -m[0].length) + (m[1] ? `.${m[1]}ts` : '.ts');
    if (isFile(ts)) return { kind: 'file', path: ts };
    if (!m[1] && isFile(`${ts}x`)) return { kind: 'file', path: `${ts}x` };
  }
  if (isDir(target)) return { kind: 'dir', path: target };
  return null;
}

const isRelative = (spec) => spec === '.' || spec === '..' || spec.startsWith('./') || spec.startsWith('../');

/** Repo-relative, '/'-separated path; null when outside the repository. */
function repoPath(abs, root) {
  const r = relative(root, abs);
  if (!r || r.startsWith('..') || isAbsolute(r)) return null;
  return r.split(sep).join('/');
}

/** `p` is the folder or file `entry`, or lies inside the folder `entry`. */
const under = (p, entry) => p === entry || p.startsWith(`${entry}/`);

/** Calls `check(node, spec, dynamic)` for every import, re-export, `import()` and `require()` with a literal path. */
function eachImport(check) {
  const fromSource = (node, dynamic) => {
    const src = node.source;
    if (src && src.type === 'Literal' && typeof src.value === 'string') check(src, src.value, dynamic);
  };
  return {
    ImportDeclaration: (n) => fromSource(n, false),
    ExportNamedDeclaration: (n) => fromSource(n, false),
    ExportAllDeclaration: (n) => fromSource(n, false),
    ImportExpression: (n) => fromSource(n, true),
    TSImportEqualsDeclaration(n) {
      const e = n.moduleReference;
      if (e && e.type === 'TSExternalModuleReference' && e.expression.type === 'Literal') check(e.expression, e.expression.value, false);
    },
    CallExpression(n) {
      if (n.callee.type === 'Identifier' && n.callee.name === 'require' && n.arguments[0]?.type === 'Literal' && typeof n.arguments[0].value === 'string') {
        check(n.arguments[0], n.arguments[0].value, false);
      }
    },
  };
}

const allowedImports = {
  meta: {
    type: 'problem',
    docs: { description: 'A layer imports only from the folders its arrow in docs/architecture.md points to.' },
    schema: [
      {
        type: 'object',
        additionalProperties: false,
        required: ['layer', 'allow', 'why'],
        properties: {
          /** The layer's name in messages (e.g. 'electron/main'). */
          layer: { type: 'string' },
          /** Repo-relative folders or files this layer may import from. */
          allow: { type: 'array', items: { type: 'string' } },
          /** Folders or files refused even inside an allowed folder: [{path, why, dynamic?}] (dynamic: import() is fine). */
          deny: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['path', 'why'],
              properties: { path: { type: 'string' }, why: { type: 'string' }, allowDynamic: { type: 'boolean' } },
            },
          },
          /** Why the arrow is as it is (appended to every message). */
          why: { type: 'string' },
          /** Repository root (tests); defaults to this file's repository. */
          root: { type: 'string' },
        },
      },
    ],
    messages: {
      outside: "{{layer}} may not import {{target}}: it may import only from {{allowed}}. {{why}}",
      denied: '{{layer}} may not import {{target}}: {{why}}',
    },
  },
  create(context) {
    const opt = context.options[0];
    const root = opt.root ?? REPO_ROOT;
    const self = repoPath(context.filename, root);
    return eachImport((node, spec, dynamic) => {
      if (!isRelative(spec)) return;
      const r = resolveRelative(context.filename, spec);
      if (!r) return; // unresolved: the typecheck reports it
      const target = repoPath(r.path, root);
      if (!target || target === self) return;
      const denied = (opt.deny ?? []).find((d) => under(target, d.path) && !(dynamic && d.allowDynamic));
      if (denied) {
        context.report({ node, messageId: 'denied', data: { layer: opt.layer, target, why: denied.why } });
        return;
      }
      if (opt.allow.some((a) => under(target, a))) return;
      context.report({ node, messageId: 'outside', data: { layer: opt.layer, target, allowed: opt.allow.join(', '), why: opt.why } });
    });
  },
};

const explicitModule = {
  meta: {
    type: 'problem',
    docs: { description: "A relative import names a module file ('../ipc/handlers'), never a folder ('../ipc'): the import then shows which module it depends on." },
    schema: [],
    messages: {
      folder: "'{{spec}}' is a folder: import the module file itself ('{{hint}}'), so the dependency names the module it uses.",
    },
  },
  create(context) {
    return eachImport((node, spec) => {
      if (!isRelative(spec)) return;
      const r = resolveRelative(context.filename, spec);
      if (r?.kind !== 'dir') return;
      const index = EXTENSIONS.map((e) => `index${e}`).find((f) => existsSync(resolve(r.path, f)));
      const hint = `${spec.replace(/\/$/, '')}/${index ? index.replace(/\.(d\.)?[mc]?tsx?$/, '') : '<module>'}`;
      context.report({ node, messageId: 'folder', data: { spec, hint } });
    });
  },
};

export default {
  meta: { name: 'layers' },
  rules: { 'allowed-imports': allowedImports, 'explicit-module': explicitModule },
};
