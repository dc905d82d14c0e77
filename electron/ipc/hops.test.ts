/**
 * The path docs/architecture.md draws from the IPC contract to the verifier,
 * walked with the TypeScript language service the way an editor's
 * go-to-definition walks it: CONTRACT['verify.start'] → its handler →
 * JOBS['verify.path'] → verifyPath. If a hop stops being one definition away
 * (a string job name, a wrapper in between), this fails.
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../services/testing/fixtures';

let ls: ts.LanguageService;
let program: ts.Program;
beforeAll(() => {
  const cfg = ts.getParsedCommandLineOfConfigFile(join(REPO_ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  if (!cfg) throw new Error('tsconfig.json cannot be read');
  const host: ts.LanguageServiceHost = {
    getScriptFileNames: () => cfg.fileNames,
    getScriptVersion: () => '1',
    getScriptSnapshot: (f) => (ts.sys.fileExists(f) ? ts.ScriptSnapshot.fromString(readFileSync(f, 'utf8')) : undefined),
    getCurrentDirectory: () => REPO_ROOT,
    getCompilationSettings: () => cfg.options,
    getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
    fileExists: ts.sys.fileExists,
    readFile: ts.sys.readFile,
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
  };
  ls = ts.createLanguageService(host);
  program = ls.getProgram()!;
}, 120_000);

const rel = (f: string) => relative(REPO_ROOT, f).split('\\').join('/');

function sourceFile(file: string): ts.SourceFile {
  const sf = program.getSourceFile(join(REPO_ROOT, file));
  if (!sf) throw new Error(`${file} is not in the program`);
  return sf;
}

function find<T extends ts.Node>(root: ts.Node, test: (n: ts.Node) => n is T): T | undefined {
  let hit: T | undefined;
  const visit = (n: ts.Node): void => {
    if (hit) return;
    if (test(n)) hit = n;
    else ts.forEachChild(n, visit);
  };
  visit(root);
  return hit;
}

const propertyNamed = (name: string) => (n: ts.Node): n is ts.PropertyAssignment => ts.isPropertyAssignment(n) && ts.isStringLiteral(n.name) && n.name.text === name;

/** Go-to-definition at a node: the one declaration it leads to, as the node there. */
function definitionOf(node: ts.Node): { file: string; node: ts.Node } {
  const sf = node.getSourceFile();
  const defs = ls.getDefinitionAtPosition(sf.fileName, node.getStart(sf)) ?? [];
  expect(defs, `go-to-definition at ${rel(sf.fileName)}: ${node.getText(sf)}`).toHaveLength(1);
  const target = program.getSourceFile(defs[0].fileName)!;
  const at = defs[0].textSpan.start;
  const decl = find(target, (n): n is ts.Node => n.getStart(target) === at && (ts.isPropertyAssignment(n) || ts.isFunctionDeclaration(n) || ts.isIdentifier(n) || ts.isStringLiteral(n)));
  let d: ts.Node = decl!;
  while (d.parent && !ts.isPropertyAssignment(d) && !ts.isFunctionDeclaration(d)) d = d.parent;
  return { file: rel(defs[0].fileName), node: d };
}

describe('from a channel to the verifier: three go-to-definition hops', () => {
  it("CONTRACT['verify.start'] → handler → JOBS['verify.path'] → verifyPath", () => {
    // The channel, declared in the contract.
    expect(find(sourceFile('shared/contract.ts'), propertyNamed('verify.start'))).toBeDefined();

    // Hop 1: the handler table's entry for the same channel (the table is typed by the contract's keys).
    const handler = find(sourceFile('electron/ipc/handlers.ts'), propertyNamed('verify.start'));
    expect(handler, "electron/ipc/handlers.ts has a 'verify.start' handler").toBeDefined();

    // Hop 2: the job the handler runs, named by element access, so go-to-definition opens it.
    const jobRef = find(handler!, (n): n is ts.ElementAccessExpression => ts.isElementAccessExpression(n) && n.expression.getText() === 'JOBS');
    expect(jobRef, "the handler runs a job as JOBS['…'] (not a bare string)").toBeDefined();
    const job = definitionOf(jobRef!.argumentExpression);
    expect(job.file).toBe('electron/services/jobs/contract.ts');
    expect(ts.isPropertyAssignment(job.node) && (job.node.name as ts.StringLiteral).text).toBe('verify.path');

    // Hop 3: the job's handler calls the verifier's entry.
    const call = find(job.node, (n): n is ts.CallExpression => ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'verifyPath');
    expect(call, "JOBS['verify.path'] calls verifyPath").toBeDefined();
    const verifier = definitionOf(call!.expression);
    expect(verifier.file).toBe('electron/services/verify/index.ts');
    expect(ts.isFunctionDeclaration(verifier.node) && verifier.node.name?.text).toBe('verifyPath');
  });
});
