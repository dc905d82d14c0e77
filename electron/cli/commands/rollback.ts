import { OpsError } from '../../../shared/errors';
import type { Command } from '../command';

// Placeholder until the owning issue lands: registered so `mirror --help` lists it.
export const rollbackCommand: Command = {
  name: 'rollback',
  summary: '(not yet available)',
  usage: 'mirror rollback: not yet available in this build.',
  async run() {
    throw new OpsError('ERR_USAGE', 'mirror rollback is not available in this build yet.');
  },
};
