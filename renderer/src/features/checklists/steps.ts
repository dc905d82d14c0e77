/** How a checklist step is offered: pure, so it is unit tested. */
import type { ChecklistStepView } from '../../../../shared/contract';
import type { Risk } from '../../components/ConfirmAction';

/** Steps that change staging itself need the word typed too; other changes (freeze, resume, prune, records) a reason. */
const STAGING_CHECKS = new Set(['restore.apply_chain', 'apply.replay', 'imports.catch_up']);

/** The button label of a step: what it does. A step that changes the workspace is never called a "check". */
export function stepActionLabel(step: Pick<ChecklistStepView, 'type' | 'title' | 'changes'>): string {
  if (step.type === 'manual') return 'Confirm step';
  if (step.changes) return `${step.title}…`;
  return 'Run check';
}

export function stepRisk(step: Pick<ChecklistStepView, 'check'>): Risk {
  return step.check && STAGING_CHECKS.has(step.check) ? 'high' : 'medium';
}

