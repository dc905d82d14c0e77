import { OpsError } from '../../../shared/errors';
import type { Command } from '../command';

// Placeholder until the owning issue lands: registered so `mirror --help` lists it.
export const checklistCommand: Command = {
  name: 'checklist',
  summary: '(not yet available)',
  usage: 'mirror checklist: not yet available in this build.',
  async run() {
    throw new OpsError('ERR_USAGE', 'mirror checklist is not available in this build yet.');
  },
};
