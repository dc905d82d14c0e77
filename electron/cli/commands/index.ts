import type { Command } from '../command';

/**
 * Every sub-command, in the order `mirror --help` lists them. Each module is
 * loaded only when its command runs, so `mirror --help`, `--version` and a
 * single command do not pay for every other command's dependencies (SQLite,
 * zstd, Sigstore) at start-up.
 */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

export const commands: readonly CommandEntry[] = [
  { name: 'verify', summary: 'Verify a bundle, an offline kit or a workspace staging tree (signatures, digests, chain).', load: async () => (await import('./verify')).verifyCommand },
  { name: 'import', summary: 'Verify and apply bundles or kits to the workspace staging area (atomic, in generation order).', load: async () => (await import('./import')).importCommand },
  { name: 'status', summary: 'Show the staged export, kept generations, library and last apply result.', load: async () => (await import('./status')).statusCommand },
  { name: 'rollback', summary: 'Return staging to a kept generation (deep-verified, atomic, audited).', load: async () => (await import('./rollback')).rollbackCommand },
  { name: 'retention', summary: 'Prune the bundle library by the retention policy (mirror retention run).', load: async () => (await import('./retention')).retentionCommand },
  { name: 'keys', summary: 'Trust, list, rotate or revoke signing keys per tenant', load: async () => (await import('./keys')).keysCommand },
  { name: 'audit', summary: 'Verify, export or list the tamper-evident audit log', load: async () => (await import('./audit')).auditCommand },
  { name: 'settings', summary: 'Show or change workspace settings (validated, audited with a reason)', load: async () => (await import('./settings')).settingsCommand },
  { name: 'serve', summary: 'Keep the engine loaded for a workspace, so imports on it skip the process start-up.', load: async () => (await import('./serve')).serveCommand },
  { name: 'checklist', summary: 'Run the runbook procedures (daily, weekly, pre-release, recovery playbooks)', load: async () => (await import('./checklist')).checklistCommand },
];
