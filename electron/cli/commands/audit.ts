import { OpsError } from '../../../shared/errors';
import type { Command } from '../command';

// Placeholder until the owning issue lands: registered so `mirror --help` lists it.
export const auditCommand: Command = {
  name: 'audit',
  summary: '(not yet available)',
  usage: 'mirror audit: not yet available in this build.',
  async run() {
    throw new OpsError('ERR_USAGE', 'mirror audit is not available in this build yet.');
  },
};
