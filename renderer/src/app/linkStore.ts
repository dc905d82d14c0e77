/**
 * Cross-page links: which Help topic (and error code) to open, which procedure
 * to point at on the Checklists page. Set by a link, read once by the page.
 */
import { create } from 'zustand';
import type { OperatorTopicId } from '../../../shared/operator-topics';

interface LinkStore {
  helpTopic: OperatorTopicId;
  helpCode: string | null;
  procedureSection: string | null;
  openHelp(topic: OperatorTopicId, code?: string | null): void;
  openProcedure(section: string): void;
  setHelpTopic(topic: OperatorTopicId): void;
}

export const useLinks = create<LinkStore>((set) => ({
  helpTopic: 'first-start',
  helpCode: null,
  procedureSection: null,
  openHelp: (helpTopic, code = null) => set({ helpTopic, helpCode: code }),
  openProcedure: (procedureSection) => set({ procedureSection }),
  setHelpTopic: (helpTopic) => set({ helpTopic, helpCode: null }),
}));
