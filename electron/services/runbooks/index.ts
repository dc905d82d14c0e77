/** The runbook engine: procedures as data, automated checks, persisted checklist runs, evidence, import freeze. */
export { CHECKS, restoreChain, treeBytes, type CheckContext, type CheckDef, type CheckResult, type CheckStatus } from './checks';
export { exportRunEvidence, buildEvidence, renderEvidenceHtml, type EvidenceReport } from './evidence';
export { failureLookup, failureTable, SYMPTOM_ADVICE, type FailureAdvice } from './failures';
export { assertImportsNotFrozen, freezeImports, freezeState, importsFrozen, resumeImports, type FreezeState } from './freeze';
export { defaultRunbookDir, findProcedure, loadProcedures, parseProcedure } from './procedures';
export { advanceRun, createRun, getRun, listRuns, runOutcome, toChecklistRunView, toChecklistSummary, type AdvanceOptions, type Answers, type ManualAnswer, type RunEnv, type RunRecord, type RunState, type StepRecord, type StepStatus } from './runs';
export { ProcedureSchema, StepSchema, type Procedure, type Step } from './schema';
