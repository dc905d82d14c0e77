import { OpsError } from '../../../shared/errors';
import type { Command } from '../command';

// Placeholder until the owning issue lands: registered so `mirror --help` lists it.
export const statusCommand: Command = {
  name: 'status',
  summary: '(not yet available)',
  usage: 'mirror status: not yet available in this build.',
  async run() {
    throw new OpsError('ERR_USAGE', 'mirror status is not available in this build yet.');
  },
};
