/**
 * The operator's guide to every error code: cause and action. The runbook's
 * section 6 advice (RUNBOOK_ADVICE in errors.ts) where it exists, and for the
 * console's other codes the notes below. docs/operator/errors.md is generated
 * from this (build/operator-docs.ts; a test compares them); `mirror help
 * <code>` and the app's Help page show the same text. Pure.
 */
import { ALL_ERROR_CODES, BUNDLE_ERROR_CODES, RUNBOOK_ADVICE, exitCodeFor, type ErrorCode } from './errors';

export interface ErrorGuideEntry {
  code: ErrorCode;
  /** Bundle contract code (spec section 8) or the console's own. */
  origin: 'bundle contract' | 'console';
  exitCode: number;
  cause: string;
  action: string;
  followUp?: string;
}

type Note = { cause: string; action: string };

/** Cause and action for the codes the runbook's failure table does not cover. */
const CONSOLE_NOTES: Partial<Record<ErrorCode, Note>> = {
  ERR_INPUT_NOT_FOUND: {
    cause: 'A path given to the command (bundle, kit folder, key, identity, workspace) does not exist or cannot be read.',
    action: 'Check the path and that the removable media is mounted (ls the folder); give the full path.',
  },
  ERR_USAGE: {
    cause: 'The command or its options are not valid (unknown command or option, a missing argument, or a feature this host does not offer, such as a file picker in the browser shell).',
    action: 'Run `mirror <command> --help` and correct the command line; in the app, type the path instead of picking it.',
  },
  ERR_CANCELLED: {
    cause: 'The operator cancelled the job (Cancel button or Ctrl-C) before it finished.',
    action: 'Nothing was changed: staging still holds its previous generation. Start the command again when ready.',
  },
  ERR_WORKSPACE_INVALID: {
    cause: 'The folder given as workspace is not a console workspace, or its workspace.json is damaged or from an unknown version.',
    action: 'Check the --workspace path. If workspace.json is damaged, restore it from backup; do not hand-edit the database or staging.',
  },
  ERR_DB_NEWER: {
    cause: 'The workspace database was written by a newer console than this one.',
    action: 'Use the newer console (or install it from the release media); never downgrade the workspace.',
  },
  ERR_DB_CORRUPT: {
    cause: 'The workspace database (console.db) cannot be read: the file is damaged.',
    action: 'Stop, keep the file for analysis, and restore console.db from backup (see restore.md); staging itself is untouched. Then run `mirror audit verify`.',
  },
  ERR_KEY_INVALID: {
    cause: 'The file is not a public key the console accepts (PEM, supported algorithm), or it is a private key.',
    action: 'Get the Export Center public key file from the change record again and check it is the public half.',
  },
  ERR_KEY_NOT_FOUND: {
    cause: 'No pinned key matches the tenant or key id named in the command.',
    action: 'List the pinned keys (`mirror keys list`) and use an existing id, or pin the key first (first-start.md).',
  },
  ERR_FINGERPRINT_MISMATCH: {
    cause: 'The fingerprint typed or pasted does not match the key file: the file is not the key the change record names.',
    action: 'Do not pin it. Compare the fingerprint out of band with the Export Center operators (phone, signed change record); get the right file.',
  },
  ERR_AUDIT_BROKEN: {
    cause: 'The audit log hash chain does not verify: a row was changed, removed or the tail was cut.',
    action: 'Treat as a security incident: stop imports, export the log (`mirror audit export`) and report the first broken row named by `mirror audit verify`.',
  },
  ERR_RUNBOOK_INVALID: {
    cause: 'A runbook procedure file is invalid, names an unknown check, or a run follows a procedure this console no longer ships.',
    action: 'Reinstall the console from the release media (procedures ship with it); export the evidence of the run and start a new one.',
  },
  ERR_CHECKLIST_STATE: {
    cause: 'The checklist step cannot be done now: the run is finished, the step is not next, or it waits for an earlier step.',
    action: 'Open the run (`mirror checklist status` or the Checklists page) and do the step it names as next.',
  },
  ERR_IPC_SENDER: {
    cause: 'A request reached the engine from a page or frame that is not the console itself.',
    action: 'Close the app and start it again; if it recurs, report it as a security finding with the logs of the day.',
  },
  ERR_IPC_INPUT: {
    cause: 'A value sent from the app is not valid (for example a setting out of range, or an unknown request).',
    action: 'Correct the value shown next to the error; if it appears without your input, report it with the logs.',
  },
  ERR_ENGINE_LOST: {
    cause: 'The resident engine (`mirror serve`) that ran this import stopped or was killed before the import finished.',
    action: 'Run the import again: the next command finishes or rolls back the interrupted apply first, and staging keeps its last good generation meanwhile. Restart `mirror serve` if you want imports to run in it.',
  },
  ERR_INTERNAL: {
    cause: 'An unexpected error inside the console (a bug), not a problem of the bundle.',
    action: 'Nothing was applied. Keep logs/<date>.jsonl and report it with the command used; retry once.',
  },
};

export function errorGuide(code: ErrorCode): ErrorGuideEntry {
  const advice = RUNBOOK_ADVICE[code];
  const note = CONSOLE_NOTES[code];
  const origin = (BUNDLE_ERROR_CODES as readonly string[]).includes(code) ? 'bundle contract' : 'console';
  if (advice) return { code, origin, exitCode: exitCodeFor(code), cause: advice.cause, action: advice.action, followUp: advice.followUp };
  if (note) return { code, origin, exitCode: exitCodeFor(code), cause: note.cause, action: note.action };
  return { code, origin, exitCode: exitCodeFor(code), cause: '', action: '' };
}

export const ERROR_GUIDE: readonly ErrorGuideEntry[] = ALL_ERROR_CODES.map(errorGuide);
