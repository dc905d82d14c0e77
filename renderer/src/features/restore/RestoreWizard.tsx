/**
 * Runbook 7.2, restore from the previous full bundle, as a wizard driving the
 * real engine: a dry-run preview of what will change (every bundle of the
 * library chain verified, read-only), a typed confirmation with a reason,
 * progress, the result, and the rollback offer when it fails. The restore is
 * all or nothing: staging never changes on failure.
 */
import { useState } from 'react';
import {
  ActionGroup,
  Alert,
  Button,
  Content,
  Form,
  FormGroup,
  FormHelperText,
  HelperText,
  HelperTextItem,
  Label,
  List,
  ListItem,
  TextArea,
  TextInput,
  Wizard,
  WizardFooterWrapper,
  WizardStep,
  useWizardContext,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { JobInfo, RestoreOfferView, RestorePlanView } from '../../../../shared/contract';
import { useInvoke } from '../../api/ApiProvider';
import { ConfirmAction } from '../../components/ConfirmAction';
import { ErrorDetails } from '../../components/ErrorDetails';
import { formatBytes } from '../../components/format';
import { JobCard } from '../tasks/TaskDrawer';
import { useJobBusy, useJobs } from '../tasks/jobs';

function useJob(jobId: string | null): JobInfo | null {
  const jobs = useJobs();
  return jobId ? (jobs.find((j) => j.jobId === jobId) ?? null) : null;
}

export function PlanView({ plan }: { plan: RestorePlanView }) {
  return (
    <section aria-label="What the restore will change">
      <Content component="p">
        Staging now: {plan.current ? `${plan.current.exportId} (generation ${plan.current.generation})` : 'nothing applied'}. The restore rebuilds{' '}
        {plan.target ? (
          <strong>
            {plan.target.exportId} (generation {plan.target.generation})
          </strong>
        ) : (
          'nothing (no full bundle in the library)'
        )}{' '}
        from {plan.bundles.length} bundle(s) of the library{plan.gaps.length ? `; generations ${plan.gaps.join(', ')} are missing after it` : ''}.
      </Content>
      <Table aria-label="Bundles of the restore chain" variant="compact">
        <Thead>
          <Tr>
            <Th>Generation</Th>
            <Th>Bundle</Th>
            <Th>Size</Th>
            <Th>Verified</Th>
          </Tr>
        </Thead>
        <Tbody>
          {plan.bundles.map((b) => (
            <Tr key={b.sha256} className={b.ok === false ? 'okc-row-failed' : undefined}>
              <Td>
                {b.kind === 'mirror-full' ? 'Full' : 'Δ'} {b.generation ?? '–'}
              </Td>
              <Td className="okc-break">{b.name}</Td>
              <Td>{formatBytes(b.size)}</Td>
              <Td>
                {b.ok === true && <Label color="green" isCompact>verified</Label>}
                {b.ok === false && (
                  <Label color="red" isCompact>
                    failed {b.code}
                  </Label>
                )}
                {b.ok === null && <Label isCompact>not checked</Label>}
              </Td>
            </Tr>
          ))}
        </Tbody>
      </Table>
      <Alert isInline variant={plan.ok ? 'success' : 'danger'} title={plan.ok ? 'Every bundle of the chain verified: the restore can run.' : `The restore would be refused${plan.code ? ` (${plan.code})` : ''}: staging stays where it is.`}>
        <Content component="p">{plan.message}</Content>
        {plan.action && <Content component="p">What to do: {plan.action}</Content>}
      </Alert>
    </section>
  );
}

function Offers({ offers, onRollback }: { offers: RestoreOfferView[]; onRollback(o: Extract<RestoreOfferView, { kind: 'rollback' }>): void }) {
  if (!offers.length) return null;
  return (
    <section aria-label="What is still possible">
      <Content component="h3">What is still possible</Content>
      <List>
        {offers.map((o, i) => (
          <ListItem key={i}>
            {o.text}{' '}
            {o.kind === 'rollback' && (
              <Button variant="secondary" size="sm" onClick={() => onRollback(o)}>
                Roll back to generation {o.generation}
              </Button>
            )}
          </ListItem>
        ))}
      </List>
    </section>
  );
}

function StepFooter({ nextLabel, canNext, onNext, canBack = true }: { nextLabel: string; canNext: boolean; onNext?: () => Promise<boolean> | boolean; canBack?: boolean }) {
  const { goToNextStep, goToPrevStep, close } = useWizardContext();
  const [busy, setBusy] = useState(false);
  return (
    <WizardFooterWrapper>
      <Button
        variant="primary"
        isDisabled={!canNext || busy}
        onClick={async () => {
          setBusy(true);
          try {
            if (!onNext || (await onNext())) await goToNextStep();
          } finally {
            setBusy(false);
          }
        }}
      >
        {nextLabel}
      </Button>
      {canBack && (
        <Button variant="secondary" onClick={goToPrevStep}>
          Back
        </Button>
      )}
      <Button variant="link" onClick={close}>
        Start over
      </Button>
    </WizardFooterWrapper>
  );
}

export function RestoreWizard({ onDone }: { onDone?: () => void }) {
  const invoke = useInvoke();
  const busy = useJobBusy();
  const [previewId, setPreviewId] = useState<string | null>(null);
  const [applyId, setApplyId] = useState<string | null>(null);
  const [startError, setStartError] = useState<unknown>(null);
  const [typed, setTyped] = useState('');
  const [reason, setReason] = useState('');
  const [rollback, setRollback] = useState<Extract<RestoreOfferView, { kind: 'rollback' }> | null>(null);
  const [rollbackError, setRollbackError] = useState<unknown>(null);
  const [rolledBack, setRolledBack] = useState<string | null>(null);
  const preview = useJob(previewId);
  const applied = useJob(applyId);
  const plan = preview?.restore?.plan ?? null;
  const result = applied?.restore?.result ?? null;
  const target = plan?.target?.exportId ?? '';
  const confirmOk = !!target && typed.trim() === target && reason.trim().length >= 3;

  const startPreview = async () => {
    setStartError(null);
    try {
      setPreviewId((await invoke('restore.preview', {})).jobId);
    } catch (e) {
      setStartError(e);
    }
  };
  const startApply = async (): Promise<boolean> => {
    setStartError(null);
    try {
      setApplyId((await invoke('restore.apply', { reason: reason.trim(), confirm: typed.trim() })).jobId);
      return true;
    } catch (e) {
      setStartError(e);
      return false;
    }
  };
  const offers = result?.plan.offers ?? plan?.offers ?? [];

  return (
    <>
      <Wizard
        title="Restore from the previous full bundle (runbook 7.2)"
        navAriaLabel="Restore steps"
        onClose={() => {
          setPreviewId(null);
          setApplyId(null);
          setTyped('');
          setReason('');
          setRolledBack(null);
          onDone?.();
        }}
        height={640}
      >
        <WizardStep name="Preview (dry run)" id="restore-preview" footer={<StepFooter nextLabel="Next" canBack={false} canNext={preview?.state === 'succeeded' || preview?.state === 'failed'} />}>
          <Content component="p">The preview reads and verifies every bundle of the library chain. It changes nothing.</Content>
          {busy.busy && !preview && <Alert isInline variant="info" title={busy.reason ?? ''} />}
          <Button variant="secondary" onClick={() => void startPreview()} isDisabled={busy.busy || preview?.state === 'running'}>
            {preview ? 'Run the preview again' : 'Run the preview'}
          </Button>
          {startError != null && !applyId && <ErrorDetails error={startError} title="The restore could not start" />}
          {preview && preview.state === 'running' && <JobCard job={preview} />}
          {preview?.error && <ErrorDetails error={preview.error} title="The preview failed" />}
          {plan && <PlanView plan={plan} />}
          {plan && !plan.ok && <Offers offers={plan.offers} onRollback={setRollback} />}
        </WizardStep>
        <WizardStep name="Confirm" id="restore-confirm" isDisabled={!plan} footer={<StepFooter nextLabel="Restore staging" canNext={confirmOk && !busy.busy} onNext={startApply} />}>
          {plan && !plan.ok && <Alert isInline variant="warning" title="The preview found a problem: the restore will be refused and staging will stay where it is." />}
          <Form onSubmit={(e) => e.preventDefault()}>
            <FormGroup label={`Type ${target || 'the export id'} to confirm`} fieldId="restore-confirm-word" isRequired>
              <TextInput id="restore-confirm-word" value={typed} onChange={(_e, v) => setTyped(v)} aria-label="Type the export id to confirm" autoComplete="off" />
              <FormHelperText>
                <HelperText>
                  <HelperTextItem>Staging will be rebuilt as {target || '–'}; the current generation stays kept for rollback.</HelperTextItem>
                </HelperText>
              </FormHelperText>
            </FormGroup>
            <FormGroup label="Reason (recorded in the audit log)" fieldId="restore-reason" isRequired>
              <TextArea id="restore-reason" value={reason} onChange={(_e, v) => setReason(v)} aria-label="Reason for the restore" placeholder="Incident or change record, e.g. INC-12 staging damaged" />
            </FormGroup>
            {busy.busy && <Alert isInline variant="info" title={busy.reason ?? ''} />}
            {startError != null && <ErrorDetails error={startError} title="The restore could not start" />}
          </Form>
        </WizardStep>
        <WizardStep name="Progress" id="restore-progress" footer={<StepFooter nextLabel="See the result" canBack={false} canNext={!!applied && applied.state !== 'running'} />}>
          {applied ? <JobCard job={applied} /> : <Content component="p">The restore has not started.</Content>}
        </WizardStep>
        <WizardStep name="Result" id="restore-result" footer={<StepFooter nextLabel="Done" canBack={false} canNext />}>
          <section aria-label="Restore result">
            {result?.ok && (
              <Alert isInline variant="success" title={`Restored: staging is ${result.current?.exportId} (generation ${result.current?.generation}).`}>
                {result.message}
              </Alert>
            )}
            {applied && !result?.ok && (
              <>
                <Alert isInline variant="danger" title={`The restore was refused${result?.code ? ` (${result.code})` : applied.error ? ` (${applied.error.code})` : ''}. Staging is unchanged${result?.current ? `: still ${result.current.exportId} (generation ${result.current.generation})` : ''}.`}>
                  {result?.message ?? applied.error?.message}
                </Alert>
                {applied.error && <ErrorDetails error={applied.error} plain />}
                {result?.plan && <PlanView plan={result.plan} />}
                <Offers offers={offers} onRollback={setRollback} />
              </>
            )}
            {rolledBack && <Alert isInline variant="success" title={rolledBack} />}
          </section>
        </WizardStep>
      </Wizard>
      <ConfirmAction
        isOpen={rollback !== null}
        title={rollback ? `Roll back to generation ${rollback.generation}?` : ''}
        description={rollback ? `Staging switches back to ${rollback.exportId} (generation ${rollback.generation}), a generation kept on disk. Nothing is deleted.` : ''}
        confirmLabel={rollback ? `Roll back to generation ${rollback.generation}` : 'Roll back'}
        risk="high"
        confirmWord={rollback ? String(rollback.generation) : undefined}
        error={rollbackError}
        onClose={() => {
          setRollback(null);
          setRollbackError(null);
        }}
        onConfirm={(why) => {
          if (!rollback) return;
          void invoke('staging.rollback', { to: rollback.generation, reason: why })
            .then((st) => {
              setRolledBack(`Rolled back: staging is ${st.exportId} (generation ${st.generation}).`);
              setRollback(null);
            })
            .catch(setRollbackError);
        }}
      />
    </>
  );
}

export function RestorePage() {
  const [key, setKey] = useState(0);
  return (
    <>
      <Content component="p">Rebuild staging from the newest full bundle in the library and the deltas after it. Use it when the staging tree is damaged (a failed deep verification) or after a wrong rollback.</Content>
      <ActionGroup>
        <RestoreWizard key={key} onDone={() => setKey((k) => k + 1)} />
      </ActionGroup>
    </>
  );
}
