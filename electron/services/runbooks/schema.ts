/** Procedures (checklists and playbooks) are data: this schema validates them at load. */
import { z } from 'zod';

/**
 * The schemas, built on first use: every command opens the engine (which imports this module), and
 * building them costs ~7 ms of a command's start (zod's extend, unions and refinements), while only
 * the commands that read procedure files parse with them (issue 13).
 */
function build() {
  const Id = z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase id: letters, digits, ".", "_", "-"');

  const StepBase = z.object({
    id: Id,
    title: z.string().min(3),
    description: z.string().default(''),
    /** The runbook step text (or texts) this step implements, as written in the runbook (resources/runbooks/source/runbook-steps.json). */
    runbookStep: z.union([z.string().min(3), z.array(z.string().min(3)).min(1)]).optional(),
  });

  const ManualStepSchema = StepBase.extend({
    type: z.literal('manual'),
    /** The operator must write a note (for example what they observed). */
    noteRequired: z.boolean().default(false),
  });

  const AutomatedStepSchema = StepBase.extend({
    type: z.literal('automated'),
    /** Name of a check in the registry (runbooks/checks.ts). */
    check: z.string().min(1),
    /** Static parameters for the check; `${input.x}` strings are replaced by run inputs. */
    params: z.record(z.string(), z.unknown()).default({}),
    /** When the check fails: block the run (playbooks) or record and go on (checklists). */
    onFail: z.enum(['block', 'continue']).default('block'),
  });

  const StepSchema = z.discriminatedUnion('type', [ManualStepSchema, AutomatedStepSchema]);

  const InputSchema = z.object({
    name: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]*$/),
    description: z.string(),
    required: z.boolean().default(false),
  });

  const ProcedureSchema = z
    .object({
      id: Id,
      title: z.string().min(3),
      /** Section of the Export Center runbook this adapts, e.g. "4.1". */
      section: z.string().regex(/^\d+(\.\d+)*$/),
      kind: z.enum(['checklist', 'playbook']),
      description: z.string().min(1),
      /** Values the operator gives when starting a run (`--input name=value`). */
      inputs: z.array(InputSchema).default([]),
      steps: z.array(StepSchema).min(1),
    })
    .superRefine((p, ctx) => {
      const seen = new Set<string>();
      for (const s of p.steps) {
        if (seen.has(s.id)) ctx.addIssue({ code: 'custom', message: `duplicate step id "${s.id}"`, path: ['steps'] });
        seen.add(s.id);
      }
      const inputs = new Set(p.inputs.map((i) => i.name));
      for (const s of p.steps) {
        if (s.type !== 'automated') continue;
        for (const v of Object.values(s.params)) {
          if (typeof v !== 'string') continue;
          for (const m of v.matchAll(/\$\{input\.([a-zA-Z0-9_]+)\}/g)) {
            if (!inputs.has(m[1])) ctx.addIssue({ code: 'custom', message: `step "${s.id}" uses input "${m[1]}", which the procedure does not declare`, path: ['steps'] });
          }
        }
      }
    });
  return { ManualStepSchema, AutomatedStepSchema, StepSchema, InputSchema, ProcedureSchema };
}

let built: ReturnType<typeof build> | undefined;
const schemas = (): ReturnType<typeof build> => (built ??= build());

export const ManualStepSchema = z.lazy(() => schemas().ManualStepSchema);
export const AutomatedStepSchema = z.lazy(() => schemas().AutomatedStepSchema);
export const StepSchema = z.lazy(() => schemas().StepSchema);
export const InputSchema = z.lazy(() => schemas().InputSchema);
export const ProcedureSchema = z.lazy(() => schemas().ProcedureSchema);

export type ManualStep = z.infer<typeof ManualStepSchema>;
export type AutomatedStep = z.infer<typeof AutomatedStepSchema>;
export type Step = z.infer<typeof StepSchema>;
export type Procedure = z.infer<typeof ProcedureSchema>;
