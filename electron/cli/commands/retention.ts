import { OpsError } from '../../../shared/errors';
import type { Command } from '../command';

// Placeholder until the owning issue lands: registered so `mirror --help` lists it.
export const retentionCommand: Command = {
  name: 'retention',
  summary: '(not yet available)',
  usage: 'mirror retention: not yet available in this build.',
  async run() {
    throw new OpsError('ERR_USAGE', 'mirror retention is not available in this build yet.');
  },
};
