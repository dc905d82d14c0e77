import { useMutation } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import {
  Alert,
  Button,
  Card,
  CardBody,
  CardTitle,
  DataList,
  DataListCell,
  DataListItem,
  DataListItemCells,
  DataListItemRow,
  Flex,
  FlexItem,
  Form,
  FormGroup,
  List,
  ListItem,
  TextInput,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { ChecklistRunView, ChecklistStepView, ChecklistSummary } from '../../../../shared/contract';
import { useInvoke } from '../../api/ApiProvider';
import { useChecklistRuns, useChecklists } from '../../api/queries';
import { useLinks } from '../../app/linkStore';
import { ConfirmAction } from '../../components/ConfirmAction';
import { ErrorDetails } from '../../components/ErrorDetails';
import { Loading } from '../../components/Loading';
import { StatusLabel, toneOf } from '../../components/Status';
import { formatTime } from '../../components/format';
import { stepActionLabel, stepRisk } from './steps';
import { useChecklistUi } from './store';

const label = (state: string) => state.replace('_', ' ');

export function ChecklistsPage() {
  const lists = useChecklists();
  const runs = useChecklistRuns();
  const { selectedRunId, select } = useChecklistUi();
  const [started, setStarted] = useState<ChecklistRunView | null>(null);
  const selected = runs.data?.find((r) => r.runId === selectedRunId) ?? (started?.runId === selectedRunId ? started : undefined);

  return (
    <Flex direction={{ default: 'column' }} gap={{ default: 'gapMd' }}>
      <Card component="section" aria-label="Procedures">
        <CardTitle component="h2">Procedures</CardTitle>
        <CardBody>
          {lists.isPending && <Loading what="procedures" />}
          {lists.error && <ErrorDetails error={lists.error} title="Procedures unavailable" />}
          {lists.data && (
            <Procedures
              list={lists.data}
              onStarted={(run) => {
                setStarted(run);
                select(run.runId);
              }}
            />
          )}
        </CardBody>
      </Card>

      <Card component="section" aria-label="Runs">
        <CardTitle component="h2">Runs</CardTitle>
        <CardBody>
          {runs.isPending && <Loading what="checklist runs" />}
          {runs.error && <ErrorDetails error={runs.error} title="Runs unavailable" />}
          {runs.data && runs.data.length === 0 && <p>No checklist has been run in this workspace yet.</p>}
          {runs.data && runs.data.length > 0 && (
            <DataList aria-label="Checklist runs" isCompact selectedDataListItemId={selectedRunId ?? undefined} onSelectDataListItem={(_e, id) => select(id)}>
              {runs.data.map((r) => (
                <DataListItem key={r.runId} id={r.runId} aria-labelledby={`run-${r.runId}`}>
                  <DataListItemRow>
                    <DataListItemCells
                      dataListCells={[
                        <DataListCell key="t">
                          <span id={`run-${r.runId}`}>{r.title}</span>
                        </DataListCell>,
                        <DataListCell key="s">
                          <StatusLabel tone={toneOf(r.state)} compact>
                            {label(r.state)}
                          </StatusLabel>
                        </DataListCell>,
                        <DataListCell key="d" className="okc-muted">
                          {formatTime(r.startedAt)}
                        </DataListCell>,
                      ]}
                    />
                  </DataListItemRow>
                </DataListItem>
              ))}
            </DataList>
          )}
        </CardBody>
      </Card>

      {selected && <RunView run={selected} />}
    </Flex>
  );
}

function Procedures({ list, onStarted }: { list: ChecklistSummary[]; onStarted: (run: ChecklistRunView) => void }) {
  const invoke = useInvoke();
  const [starting, setStarting] = useState<string | null>(null);
  const [inputs, setInputs] = useState<Record<string, string>>({});
  const suggested = useLinks((s) => s.procedureSection);
  const suggestedRef = useRef<HTMLTableRowElement>(null);
  useEffect(() => {
    if (suggested) suggestedRef.current?.scrollIntoView({ block: 'center' });
  }, [suggested]);
  const start = useMutation({
    mutationFn: (checklistId: string) => {
      const given = Object.fromEntries(Object.entries(inputs).filter(([, v]) => v.trim() !== ''));
      return invoke('checklists.start', { checklistId, inputs: Object.keys(given).length ? given : undefined });
    },
    onSuccess: (run) => {
      onStarted(run);
      setStarting(null);
      setInputs({});
    },
  });
  return (
    <>
      <Table role="table" aria-label="Checklists and playbooks" variant="compact">
        <Thead>
          <Tr>
            <Th>Runbook</Th>
            <Th>Procedure</Th>
            <Th>Steps</Th>
            <Th screenReaderText="Actions" />
          </Tr>
        </Thead>
        <Tbody>
          {list.map((c) => {
            const isSuggested = suggested === c.section;
            return (
              <Tr key={c.id} ref={isSuggested ? suggestedRef : undefined} isRowSelected={isSuggested}>
                <Td dataLabel="Runbook">{c.section}</Td>
                <Td dataLabel="Procedure">
                  {c.title}{' '}
                  {isSuggested && (
                    <StatusLabel tone="info" compact>
                      suggested for the error
                    </StatusLabel>
                  )}
                </Td>
                <Td dataLabel="Steps">{c.stepCount}</Td>
                <Td isActionCell>
                  {starting === c.id && (c.inputs ?? []).length > 0 ? (
                    <Form
                      aria-label={`Inputs for ${c.title}`}
                      onSubmit={(e) => {
                        e.preventDefault();
                        start.mutate(c.id);
                      }}
                    >
                      {(c.inputs ?? []).map((i) => (
                        <FormGroup key={i.name} label={`${i.name}: ${i.description}`} isRequired={i.required} fieldId={`input-${c.id}-${i.name}`}>
                          <TextInput id={`input-${c.id}-${i.name}`} value={inputs[i.name] ?? ''} onChange={(_e, v) => setInputs({ ...inputs, [i.name]: v })} isRequired={i.required} />
                        </FormGroup>
                      ))}
                      <Flex gap={{ default: 'gapSm' }}>
                        <Button type="submit" variant="primary" size="sm" isDisabled={start.isPending}>
                          Start run
                        </Button>
                        <Button variant="link" size="sm" onClick={() => setStarting(null)}>
                          Close
                        </Button>
                      </Flex>
                    </Form>
                  ) : (
                    <Button
                      variant="secondary"
                      size="sm"
                      isDisabled={start.isPending}
                      onClick={() => ((c.inputs ?? []).length > 0 ? (setStarting(c.id), setInputs({})) : start.mutate(c.id))}
                      aria-label={`Start ${c.title}`}
                    >
                      Start
                    </Button>
                  )}
                </Td>
              </Tr>
            );
          })}
        </Tbody>
      </Table>
      {start.error && <ErrorDetails error={start.error} title="The checklist could not start" />}
    </>
  );
}

function RunView({ run }: { run: ChecklistRunView }) {
  const nextId = run.nextStepId;
  return (
    <Card component="section" aria-label={`Run ${run.title}`}>
      <CardTitle component="h2">
        {run.title}{' '}
        <StatusLabel tone={toneOf(run.state)} compact>
          {label(run.state)}
        </StatusLabel>
      </CardTitle>
      <CardBody>
        {run.reason && <Alert variant={run.state === 'blocked' ? 'danger' : 'info'} isInline isPlain title={run.reason} className="pf-v6-u-mb-md" />}
        <ol className="okc-steps">
          {run.steps.map((s) => (
            <StepView key={s.id} runId={run.runId} step={s} isNext={run.state !== 'done' && s.id === nextId} />
          ))}
        </ol>
        <EvidenceExport runId={run.runId} />
      </CardBody>
    </Card>
  );
}

function StepView({ runId, step, isNext }: { runId: string; step: ChecklistStepView; isNext: boolean }) {
  const invoke = useInvoke();
  const [note, setNote] = useState('');
  const [confirming, setConfirming] = useState(false);
  const complete = useMutation({
    mutationFn: (reason?: string) =>
      invoke('checklists.completeStep', {
        runId,
        stepId: step.id,
        confirm: step.type === 'manual' || step.changes ? true : undefined,
        note: (reason ?? note).trim() || undefined,
      }),
    onSuccess: () => {
      if (confirming) {
        setConfirming(false);
      }
    },
  });
  return (
    <li className={`okc-step okc-step-${step.status}`}>
      <Flex alignItems={{ default: 'alignItemsCenter' }} gap={{ default: 'gapSm' }}>
        <strong>{step.title}</strong>
        <span className="okc-muted">({step.type === 'manual' ? 'manual' : step.changes ? 'changes the workspace' : 'automated check'})</span>
        <StatusLabel tone={toneOf(step.status)} compact>
          {step.status}
        </StatusLabel>
      </Flex>
      {step.evidence && <p className="okc-muted">Evidence: {step.evidence}</p>}
      {step.by && (
        <p className="okc-muted">
          By {step.by} at {formatTime(step.at)}
          {step.note ? ` — “${step.note}”` : ''}
        </p>
      )}
      {isNext && (
        <Flex gap={{ default: 'gapSm' }} className="pf-v6-u-mt-sm" alignItems={{ default: 'alignItemsCenter' }}>
          {step.type === 'manual' && (
            <FlexItem grow={{ default: 'grow' }}>
              <TextInput aria-label={`Note for ${step.title}`} placeholder="Note (optional)" value={note} onChange={(_e, v) => setNote(v)} />
            </FlexItem>
          )}
          <Button variant={step.changes ? 'warning' : 'secondary'} isDisabled={complete.isPending} isLoading={complete.isPending && !confirming} onClick={() => (step.changes ? setConfirming(true) : complete.mutate(undefined))}>
            {stepActionLabel(step)}
          </Button>
        </Flex>
      )}
      {complete.error && !confirming && <ErrorDetails error={complete.error} title="Step not recorded" />}
      {confirming && (
        <ConfirmAction
          isOpen
          title={step.title}
          description={<p>This step changes the workspace (check {step.check}). It runs now and is recorded in the audit log with your reason.</p>}
          confirmLabel={step.title}
          risk={stepRisk(step)}
          confirmWord="staging"
          busy={complete.isPending}
          error={complete.error}
          onConfirm={(reason) => complete.mutate(reason)}
          onClose={() => {
            setConfirming(false);
            complete.reset();
          }}
        />
      )}
    </li>
  );
}

/** The run's evidence (JSON + HTML) into evidence/checklists, signed with a key file if given. */
function EvidenceExport({ runId }: { runId: string }) {
  const invoke = useInvoke();
  const [keyFile, setKeyFile] = useState('');
  const exp = useMutation({ mutationFn: () => invoke('checklists.exportEvidence', { runId, signKeyFile: keyFile.trim() || undefined }) });
  return (
    <section aria-label="Evidence" className="pf-v6-u-mt-md">
      <h3>Evidence</h3>
      <Form
        isHorizontal
        onSubmit={(e) => {
          e.preventDefault();
          exp.mutate();
        }}
      >
        <FormGroup label="Signing key file (optional)" fieldId={`ev-key-${runId}`}>
          <TextInput id={`ev-key-${runId}`} value={keyFile} onChange={(_e, v) => setKeyFile(v)} placeholder="/media/usb/evidence-signing.pem" spellCheck={false} />
        </FormGroup>
        <div>
          <Button type="submit" variant="secondary" isLoading={exp.isPending} isDisabled={exp.isPending}>
            {keyFile.trim() ? 'Export and sign evidence' : 'Export evidence'}
          </Button>
        </div>
      </Form>
      {exp.error && <ErrorDetails error={exp.error} title="Evidence not exported" />}
      {exp.data && (
        <div role="status" className="pf-v6-u-mt-sm">
          Evidence written{exp.data.signatures.length ? ' and signed' : ''}:
          <List>
            {[...exp.data.files, ...exp.data.signatures].map((f) => (
              <ListItem key={f}>
                <code>{f}</code>
              </ListItem>
            ))}
          </List>
        </div>
      )}
    </section>
  );
}
