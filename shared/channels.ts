/**
 * Channel and topic names alone, without their schemas: what the sandboxed
 * preload needs to check a call (it stays small: no zod). `shared/contract.ts`
 * proves at compile time that this list and the contract's keys are the same.
 */
export const CHANNEL_NAMES = [
  'app.info',
  'workspace.status',
  'health.get',
  'verify.start',
  'import.start',
  'restore.preview',
  'restore.apply',
  'jobs.result',
  'jobs.list',

  'jobs.cancel',
  'library.list',
  'library.files',
  'staging.rollback',
  'audit.list',
  'audit.page',
  'audit.locate',
  'audit.row',
  'audit.verify',
  'keys.list',
  'keys.inspect',
  'keys.add',
  'keys.rotate',
  'keys.revoke',
  'checklists.list',
  'checklists.start',
  'checklists.completeStep',
  'checklists.status',
  'checklists.exportEvidence',
  'retention.preview',
  'retention.run',
  'audit.export',
  'settings.get',
  'settings.set',
  'demoKit.info',
  'dialog.openPath',
] as const;

export const TOPIC_NAMES = ['job.progress', 'job.done', 'data.changed'] as const;

/** The one IPC channel name used for pushing topic events to a window. */
export const EVENT_CHANNEL = 'console:event';
