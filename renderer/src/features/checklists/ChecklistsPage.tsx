import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import type { ChecklistRunView, ChecklistStepView } from '../../../../shared/contract';
import { useInvoke } from '../../api/ApiProvider';
import { useChecklistRuns, useChecklists } from '../../api/queries';
import { ErrorPanel } from '../../components/ErrorPanel';
import { Loading } from '../../components/Loading';
import { formatTime } from '../../components/format';
import { useChecklistUi } from './store';

export function ChecklistsPage() {
  const invoke = useInvoke();
  const lists = useChecklists();
  const runs = useChecklistRuns();
  const { selectedRunId, select } = useChecklistUi();
  const [starting, setStarting] = useState<string | null>(null);
  const [inputs, setInputs] = useState<Record<string, string>>({});
  const start = useMutation({
    mutationFn: (checklistId: string) => {
      const given = Object.fromEntries(Object.entries(inputs).filter(([, v]) => v.trim() !== ''));
      return invoke('checklists.start', { checklistId, inputs: Object.keys(given).length ? given : undefined });
    },
    onSuccess: (run) => {
      select(run.runId);
      setStarting(null);
      setInputs({});
    },
  });
  const selected = runs.data?.find((r) => r.runId === selectedRunId) ?? (start.data?.runId === selectedRunId ? start.data : undefined);

  return (
    <div className="stack">
      <section className="card" aria-label="Procedures">
        <h2>Procedures</h2>
        {lists.isPending && <Loading what="procedures" />}
        {lists.error && <ErrorPanel error={lists.error} title="Procedures unavailable" />}
        {lists.data && (
          <table>
            <caption className="sr-only">Checklists and playbooks</caption>
            <thead>
              <tr>
                <th scope="col">Runbook</th>
                <th scope="col">Procedure</th>
                <th scope="col">Steps</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {lists.data.map((c) => (
                <tr key={c.id}>
                  <td>{c.section}</td>
                  <td>{c.title}</td>
                  <td>{c.stepCount}</td>
                  <td>
                    {starting === c.id && (c.inputs ?? []).length > 0 ? (
                      <form
                        className="stack-tight"
                        aria-label={`Inputs for ${c.title}`}
                        onSubmit={(e) => {
                          e.preventDefault();
                          start.mutate(c.id);
                        }}
                      >
                        {(c.inputs ?? []).map((i) => (
                          <input
                            key={i.name}
                            type="text"
                            aria-label={`${i.name}: ${i.description}`}
                            placeholder={`${i.name}${i.required ? ' (required)' : ''}: ${i.description}`}
                            value={inputs[i.name] ?? ''}
                            onChange={(e) => setInputs({ ...inputs, [i.name]: e.target.value })}
                          />
                        ))}
                        <div className="row">
                          <button type="submit" disabled={start.isPending}>
                            Start run
                          </button>
                          <button type="button" onClick={() => setStarting(null)}>
                            Close
                          </button>
                        </div>
                      </form>
                    ) : (
                      <button
                        type="button"
                        disabled={start.isPending}
                        onClick={() => ((c.inputs ?? []).length > 0 ? (setStarting(c.id), setInputs({})) : start.mutate(c.id))}
                        aria-label={`Start ${c.title}`}
                      >
                        Start
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {start.error && <ErrorPanel error={start.error} title="The checklist could not start" />}
      </section>

      <section className="card" aria-label="Runs">
        <h2>Runs</h2>
        {runs.isPending && <Loading what="checklist runs" />}
        {runs.error && <ErrorPanel error={runs.error} title="Runs unavailable" />}
        {runs.data && runs.data.length === 0 && <p>No checklist has been run in this workspace yet.</p>}
        {runs.data && runs.data.length > 0 && (
          <ul className="run-list">
            {runs.data.map((r) => (
              <li key={r.runId}>
                <button type="button" className={r.runId === selectedRunId ? 'nav-item active' : 'nav-item'} onClick={() => select(r.runId)}>
                  {r.title} — <span className={`state state-${r.state}`}>{r.state.replace('_', ' ')}</span> <span className="muted">{formatTime(r.startedAt)}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>

      {selected && <RunView run={selected} />}
    </div>
  );
}

function RunView({ run }: { run: ChecklistRunView }) {
  const nextId = run.nextStepId;
  return (
    <section className="card card-wide" aria-label={`Run ${run.title}`}>
      <h2>
        {run.title} <span className={`state state-${run.state}`}>{run.state.replace('_', ' ')}</span>
      </h2>
      {run.reason && <p className={run.state === 'blocked' ? 'bad' : 'muted'}>{run.reason}</p>}
      <ol className="steps">
        {run.steps.map((s) => (
          <StepView key={s.id} runId={run.runId} step={s} isNext={run.state !== 'done' && s.id === nextId} />
        ))}
      </ol>
    </section>
  );
}

function StepView({ runId, step, isNext }: { runId: string; step: ChecklistStepView; isNext: boolean }) {
  const invoke = useInvoke();
  const [note, setNote] = useState('');
  const complete = useMutation({
    mutationFn: () => invoke('checklists.completeStep', { runId, stepId: step.id, confirm: step.type === 'manual' ? true : undefined, note: note.trim() || undefined }),
  });
  return (
    <li className={`step step-${step.status}`}>
      <div className="row">
        <strong>{step.title}</strong> <span className="muted">({step.type})</span> <span className={`state state-${step.status}`}>{step.status}</span>
      </div>
      {step.evidence && <p className="muted">Evidence: {step.evidence}</p>}
      {step.by && (
        <p className="muted">
          By {step.by} at {formatTime(step.at)}
          {step.note ? ` — “${step.note}”` : ''}
        </p>
      )}
      {isNext && (
        <div className="row">
          {step.type === 'manual' && (
            <input type="text" aria-label={`Note for ${step.title}`} placeholder="Note (optional)" value={note} onChange={(e) => setNote(e.target.value)} />
          )}
          <button type="button" disabled={complete.isPending} onClick={() => complete.mutate()}>
            {step.type === 'manual' ? 'Confirm step' : 'Run check'}
          </button>
        </div>
      )}
      {complete.error && <ErrorPanel error={complete.error} title="Step not recorded" />}
    </li>
  );
}
