/** The runbook engine: procedures as data, automated checks, persisted checklist runs, evidence, import freeze, restore. */
export { CHECKS, treeBytes, type CheckContext, type CheckDef, type CheckResult, type CheckStatus } from './checks';
export { acknowledgeFailures, FAILURE_EVENTS, lastAcknowledgement, unacknowledgedFailures, type Acknowledgement, type UnacknowledgedFailures } from './acknowledge';
export { exportRunEvidence, buildEvidence, renderEvidenceHtml, type EvidenceReport } from './evidence';
export { failureLookup, failureTable, SYMPTOM_ADVICE, type FailureAdvice } from './failures';
export { assertImportsNotFrozen, freezeImports, freezeState, importsFrozen, resumeImports, type FreezeState } from './freeze';
export { defaultRunbookDir, findProcedure, loadProcedures, parseProcedure } from './procedures';
export { restoreApply, restoreChain, restorePreview, type RestoreApplyOptions, type RestoreEngines, type RestoreBundle, type RestoreOffer, type RestorePlan, type RestoreResult } from './restore';
export { advanceRun, assertNextStep, assertReasonForChange, createRun, getRun, isStepDone, listRuns, nextStep, runOutcome, setRunInputs, toChecklistRunView, toChecklistSummary, checkAnswers, type AdvanceOptions, type Answers, type Confirmation, type ManualAnswer, type RunEnv, type RunRecord, type RunState, type StepRecord, type StepStatus } from './runs';
export { ProcedureSchema, StepSchema, type Procedure, type Step } from './schema';
export { runbookServices, type RunbookServices, type StagingSeam, type VerifySeam } from './services';
