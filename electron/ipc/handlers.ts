/**
 * The handler table: channel → async (parsed input) => value, and its
 * registration behind a sender check and the contract's zod schemas.
 * Imports no Electron: the Electron main process, the vitest contract test and
 * the Playwright bridge all mount this very table.
 */
import { arch, platform } from 'node:os';
import { resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { CONTRACT, CHANNELS, isChannel, type Channel, type ChannelOutput, type Envelope, type ParsedInput, type Topic, type Topics } from '../../shared/contract';
import { OpsError, toErrorShape } from '../../shared/errors';
import { APP_VERSION } from '../services/version';
import type { Engine } from '../services/engine';
import { JOBS } from '../services/jobs/index';
import * as engine from './engine';
import { JobManager, type Emit } from './jobs';

export type Handler<C extends Channel> = (input: ParsedInput<C>) => Promise<ChannelOutput<C>>;
export type HandlerTable = { [C in Channel]: Handler<C> };

export interface HandlerDeps {
  /** The workspace folder (created on first use). */
  workspaceDir: string;
  /** Where the table runs: the Electron main process or a test/browser bridge. */
  host?: 'electron' | 'browser' | 'bridge';
  /** Runtime versions the Node side cannot know by itself (the browser bridge passes Chromium's). */
  versions?: { chromium?: string | null; electron?: string | null };
  /** Pushes a topic event to the renderer(s). */
  emit?: Emit;
  /** Executes heavy named engine jobs (verify, import, audit chain walk); the app passes `workerExec`. Default: in this thread. */
  exec?: engine.EngineExec;
  /** Native file picker (main process only). Absent: `dialog.openPath` answers ERR_USAGE. */
  openPath?: (input: ParsedInput<'dialog.openPath'>) => Promise<string | null>;
  /** Folder holding demo-kit/ and demo-kit.pub (default: the package's resources/). */
  resourcesDir?: string;
}

export interface Handlers {
  table: HandlerTable;
  jobs: JobManager;
  /** Cancels running jobs and closes the database. */
  dispose(): Promise<void>;
}

export function createHandlers(deps: HandlerDeps): Handlers {
  const emit: Emit = deps.emit ?? (() => {});
  const exec = deps.exec ?? engine.inlineExec;
  const workspaceDir = resolve(deps.workspaceDir);
  // The one engine of this table (createEngine: the composition root), opened on first use.
  let opened: Engine | null = null;
  const sess = (): Engine => (opened ??= engine.openConsoleEngine(workspaceDir));
  // Every job is started with its work (verify.start, import.start below).
  const jobs = new JobManager(null, emit);
  const operator = () => sess().settings.operator;
  const changed = (...scopes: Topics['data.changed']['scopes']) => emit('data.changed', { scopes });

  const table: HandlerTable = {
    'app.info': async () => {
      const s = sess();
      let workspaceEmpty = true;
      try {
        const st = await engine.workspaceStatus(s, false);
        workspaceEmpty = st.generation === null && st.library.length === 0;
      } catch {
        workspaceEmpty = true;
      }
      return {
        name: 'export-center-offline-console',
        productName: 'Export Center Offline Console',
        version: APP_VERSION,
        workspacePath: s.dir,
        workspaceEmpty,
        platform: platform(),
        arch: arch(),
        versions: {
          node: process.versions.node,
          chromium: deps.versions?.chromium ?? process.versions.chrome ?? null,
          electron: deps.versions?.electron ?? process.versions.electron ?? null,
          v8: process.versions.v8,
        },
        host: deps.host ?? 'bridge',
        nativePicker: deps.openPath !== undefined,
      };
    },
    'workspace.status': async (input) => engine.workspaceStatus(sess(), input?.deep ?? false),
    'health.get': async () => sess().health(),
    // verify.start → JOBS['verify.path'] → verifyPath: docs/architecture.md, "From a channel to the signature check".
    'verify.start': async (input) => {
      const params = { path: input.path, keyFiles: input.keyFiles ?? [], identityFiles: input.identityFiles ?? [] };
      const jobId = jobs.start({ kind: 'verify', workspaceDir, ...params }, async (ctx) => {
        sess().trust(params); // key and identity files checked first: a wrong path or a private key gets a plain error
        const verdict = await exec(JOBS['verify.path'], { workspaceDir, ...params, auditAs: 'console' }, ctx);
        return { verdict, status: null, import: null };
      });
      return { jobId };
    },
    'import.start': async (input) => {
      const params = { paths: input.paths, keyFiles: input.keyFiles ?? [], identityFiles: input.identityFiles ?? [], forceReason: input.forceReason, dryRun: input.dryRun };
      const jobId = jobs.start({ kind: 'import', workspaceDir, ...params }, (ctx) => engine.importJob(sess(), exec, params, ctx));
      return { jobId };
    },
    'restore.preview': async (input) => {
      const identityFiles = input?.identityFiles ?? [];
      const jobId = jobs.start({ kind: 'restore-preview', workspaceDir, identityFiles }, async (ctx) => {
        sess().trust({ identityFiles });
        const plan = await exec(JOBS['restore.preview'], { workspaceDir, identityFiles }, ctx);
        return { verdict: null, status: null, import: null, restore: { plan: engine.restorePlanView(plan), result: null } };
      });
      return { jobId };
    },
    'restore.apply': async (input) => {
      const identityFiles = input.identityFiles ?? [];
      // The typed confirmation must name what the restore rebuilds (read from the library, no bundle read).
      engine.assertRestoreConfirmation(sess(), input.confirm);
      const jobId = jobs.start({ kind: 'restore-apply', workspaceDir, identityFiles, reason: input.reason }, async (ctx) => {
        sess().trust({ identityFiles });
        const r = await exec(JOBS['restore.apply'], { workspaceDir, reason: input.reason, operator: operator() || undefined, identityFiles }, ctx);
        const result = engine.restoreResultView(r);
        return { verdict: null, status: await engine.workspaceStatus(sess(), false), import: result.import, restore: { plan: result.plan, result } };
      });
      return { jobId };
    },
    'jobs.result': async ({ jobId }) => jobs.get(jobId),
    'jobs.list': async () => jobs.list(),
    'jobs.cancel': async ({ jobId }) => ({ cancelled: jobs.cancel(jobId) }),
    'library.list': async () => engine.libraryList(sess()),
    'library.files': async (input) => engine.libraryFiles(sess(), input, exec),
    'staging.rollback': async ({ to, reason }) => {
      jobs.assertNoWriter('a rollback');
      const s = sess();
      await engine.rollback(s, to, reason, operator());
      changed('workspace', 'audit');
      return engine.workspaceStatus(s, false);
    },
    'audit.list': async (q) => engine.auditList(sess(), q),
    'audit.page': async (q) => sess().audit.page(q),
    'audit.locate': async ({ at, ...f }) => sess().audit.locate(at, f),
    'audit.row': async ({ id }) => sess().audit.row(id),
    'audit.verify': async () => engine.auditVerify(sess(), exec),
    'keys.list': async (input) => engine.keysList(sess(), input?.tenant),
    'keys.inspect': async ({ pem }) => engine.keyInspect(pem),
    'keys.add': async (input) => {
      const k = engine.keysAdd(sess(), input, operator());
      changed('keys', 'audit');
      return k;
    },
    'keys.rotate': async (input) => {
      const k = engine.keysRotate(sess(), input, operator());
      changed('keys', 'audit');
      return k;
    },
    'keys.revoke': async (input) => {
      const k = engine.keysRevoke(sess(), input, operator());
      changed('keys', 'audit');
      return k;
    },
    'checklists.list': async () => engine.checklistsList(sess()),
    'checklists.start': async ({ checklistId, inputs }) => {
      const run = await engine.checklistStart(sess(), checklistId, inputs, operator());
      changed('checklists', 'audit');
      return run;
    },
    'checklists.completeStep': async (input) => {
      const run = await engine.checklistCompleteStep(sess(), input, operator(), exec);
      // A step may change the workspace (freeze, resume, restore, prune, catch-up import).
      changed('checklists', 'audit', 'workspace', 'library');
      return run;
    },
    'checklists.status': async (input) => engine.checklistStatus(sess(), input?.runId),
    'checklists.exportEvidence': async (input) => engine.evidenceExport(sess(), input),
    'retention.preview': async () => engine.retention(sess(), { dryRun: true }, operator()),
    'retention.run': async ({ reason }) => {
      const r = engine.retention(sess(), { dryRun: false, reason }, operator());
      changed('library', 'audit', 'workspace');
      return r;
    },
    'audit.export': async (input) => {
      const r = engine.auditExport(sess(), input, operator());
      changed('audit');
      return r;
    },
    'settings.get': async () => sess().settings,
    'settings.set': async ({ settings, reason }) => {
      const saved = sess().saveSettings(settings, { reason });
      changed('settings');
      return saved;
    },
    'demoKit.info': async () => engine.demoKitInfo(deps.resourcesDir),
    'dialog.openPath': async (input) => {
      if (!deps.openPath) throw new OpsError('ERR_USAGE', 'A file picker is not available here: type the path instead.');
      return { path: await deps.openPath(input) };
    },
  };

  return {
    table,
    jobs,
    async dispose() {
      await jobs.shutdown();
      opened?.close();
      opened = null;
    },
  };
}

// ---------------------------------------------------------------------------
// Registration

/** The part of an IPC event the sender check reads (Electron's IpcMainInvokeEvent has it). */
export interface IpcEventLike {
  senderFrame?: { url: string } | null;
}

/** The part of Electron's ipcMain the registration uses (tests pass a fake registry). */
export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcEventLike, input: unknown) => Promise<unknown>): void;
  removeHandler?(channel: string): void;
}

export interface RegisterOptions {
  isTrustedSender: (event: IpcEventLike) => boolean;
}

/** Formats zod issues as one plain sentence list: "paths: Choose at least one bundle…". */
export function describeZodError(e: z.ZodError): string {
  return e.issues
    .map((i) => {
      const where = i.path.length > 0 ? `${i.path.join('.')}: ` : '';
      return `${where}${i.message}`;
    })
    .join('; ');
}

/** Parses, calls and wraps one invocation. Never throws. */
export async function dispatch<C extends Channel>(table: HandlerTable, channel: C, raw: unknown): Promise<Envelope<ChannelOutput<C>>> {
  const schema = CONTRACT[channel].input as z.ZodType;
  const parsed = schema.safeParse(raw ?? undefined);
  if (!parsed.success) {
    return {
      ok: false,
      error: { code: 'ERR_IPC_INPUT', message: `Invalid request to ${channel}: ${describeZodError(parsed.error)}`, action: 'Correct the highlighted value and try again.' },
    };
  }
  try {
    const handler = table[channel] as unknown as (input: unknown) => Promise<ChannelOutput<C>>;
    const value = await handler(parsed.data);
    return { ok: true, value };
  } catch (e) {
    return { ok: false, error: toErrorShape(e) };
  }
}

/** Registers every contract channel on `ipcMain` behind the sender check. Returns the channels registered. */
export function registerHandlers(ipcMain: IpcMainLike, table: HandlerTable, opts: RegisterOptions): Channel[] {
  for (const channel of CHANNELS) {
    if (typeof table[channel] !== 'function') throw new Error(`No handler for contract channel ${channel}`);
    ipcMain.handle(channel, async (event, input) => {
      let trusted = false;
      try {
        trusted = opts.isTrustedSender(event);
      } catch {
        trusted = false;
      }
      if (!trusted) {
        return {
          ok: false,
          error: { code: 'ERR_IPC_SENDER', message: `Refused ${channel}: the request did not come from the console's own window (${event.senderFrame?.url ?? 'unknown frame'}).` },
        } satisfies Envelope<never>;
      }
      return dispatch(table, channel, input);
    });
  }
  return [...CHANNELS];
}

/**
 * The sender check: the frame URL is our custom protocol (app://console/…) or
 * a file:// URL inside our built renderer folder. Anything else (http(s),
 * data:, another file) is refused.
 */
export function isTrustedSenderUrl(url: string | undefined | null, rendererDir?: string): boolean {
  if (!url) return false;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol === 'app:') return u.host === 'console' && u.username === '' && u.password === '' && u.port === '';
  if (u.protocol === 'file:' && rendererDir) {
    let file: string;
    try {
      file = fileURLToPath(u);
    } catch {
      return false;
    }
    const root = resolve(rendererDir) + sep;
    return resolve(file).startsWith(root);
  }
  return false;
}

export { isChannel };
export type { Topic };
