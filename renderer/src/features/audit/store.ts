import { create } from 'zustand';
import type { AuditVerifyResult } from '../../../../shared/contract';

export interface AuditFilters {
  action: string;
  actor: string;
  subject: string;
  /** Inclusive first day and last day (YYYY-MM-DD, UTC), or ''. */
  fromDay: string;
  toDay: string;
}

interface AuditUi extends AuditFilters {
  set(patch: Partial<AuditFilters>): void;
  /** The chain verification's last result: kept when the operator leaves the page. */
  verified: AuditVerifyResult | null;
  setVerified(v: AuditVerifyResult | null): void;
}

export const useAuditUi = create<AuditUi>((set) => ({
  action: '',
  actor: '',
  subject: '',
  fromDay: '',
  toDay: '',
  verified: null,
  set: (patch) => set(patch),
  setVerified: (verified) => set({ verified }),
}));
