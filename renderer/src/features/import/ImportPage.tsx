import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import {
  ActionGroup,
  Button,
  Card,
  CardBody,
  CardTitle,
  Checkbox,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  ExpandableSection,
  Flex,
  Form,
  FormGroup,
  FormHelperText,
  HelperText,
  HelperTextItem,
  InputGroup,
  InputGroupItem,
  TextArea,
  TextInput,
} from '@patternfly/react-core';
import type { ImportSummary, JobInfo } from '../../../../shared/contract';
import { toShape, useInvoke } from '../../api/ApiProvider';
import { useJobStore } from '../../api/jobStore';
import { useAppInfo } from '../../api/queries';
import { ErrorDetails } from '../../components/ErrorDetails';
import { useJobBusy } from '../tasks/jobs';
import { JobProgressBar } from '../../components/JobProgressBar';
import { StatusLabel } from '../../components/Status';
import { BundleSection, VerdictView, Warnings } from '../../components/VerdictView';
import { shortDigest } from '../../components/format';
import { useImportStore } from './store';

const lines = (s: string) =>
  s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);

export function ImportPage() {
  const invoke = useInvoke();
  const { path, keyFiles, identityFiles, jobId, setPath, setKeyFiles, setIdentityFiles, setJob } = useImportStore();
  const [keyText, setKeyText] = useState(keyFiles.join('\n'));
  const [identityText, setIdentityText] = useState(identityFiles.join('\n'));
  const [pickError, setPickError] = useState<unknown>(null);
  // The browser shell has no native picker: the typed path fields are the way in.
  const nativePicker = useAppInfo().data?.nativePicker === true;
  const [dryRun, setDryRun] = useState(false);
  const [forceReason, setForceReason] = useState('');
  const [optionsOpen, setOptionsOpen] = useState(false);
  const jobDone = useJobStore((s) => (jobId ? s.doneById[jobId] : undefined));
  const polled = useQuery({
    queryKey: ['jobs', jobId],
    queryFn: () => invoke('jobs.result', { jobId: jobId! }),
    enabled: jobId !== null,
    refetchInterval: (q) => (q.state.data && q.state.data.state !== 'running' ? false : 1000),
  });
  const running = jobId !== null && !jobDone && (polled.data === undefined || polled.data.state === 'running');

  // Keep the text areas in step when another page prefilled the store (the demo kit offer).
  const [seenKeys, setSeenKeys] = useState(keyFiles);
  if (seenKeys !== keyFiles) {
    setSeenKeys(keyFiles);
    setKeyText(keyFiles.join('\n'));
  }

  const start = useMutation({
    mutationFn: async (kind: 'verify' | 'import') => {
      const keys = lines(keyText);
      const ids = lines(identityText);
      setKeyFiles(keys);
      setIdentityFiles(ids);
      const trust = { keyFiles: keys.length ? keys : undefined, identityFiles: ids.length ? ids : undefined };
      const r =
        kind === 'verify'
          ? await invoke('verify.start', { path, ...trust })
          : await invoke('import.start', { paths: [path], ...trust, dryRun: dryRun || undefined, forceReason: forceReason.trim() || undefined });
      return r.jobId;
    },
    // The running job's panel stays until a new job really started.
    onSuccess: (id) => setJob(id),
  });

  const pick = async (mode: 'file' | 'directory', onPath: (p: string) => void) => {
    setPickError(null);
    try {
      const r = await invoke('dialog.openPath', { mode, title: mode === 'file' ? 'Choose a bundle' : 'Choose a kit folder' });
      if (r.path) onPath(r.path);
    } catch (e) {
      setPickError(e);
    }
  };
  const blocked = !path.trim() || start.isPending || running;
  // A job that changes staging started elsewhere (a restore, another window's import) blocks an import too; a verify only reads.
  const writer = useJobBusy();
  const otherWriter = writer.busy && !running;

  return (
    <Flex direction={{ default: 'column' }} gap={{ default: 'gapMd' }}>
      <Card component="section" aria-label="Choose input">
        <CardTitle component="h2">Bundle or kit</CardTitle>
        <CardBody>
          <p className="okc-muted pf-v6-u-mb-md">Verify a bundle or an offline kit from removable media, or import it into staging. Nothing is applied unless every check passes.</p>
          <Form
            onSubmit={(e) => {
              e.preventDefault();
              if (!blocked) start.mutate('verify');
            }}
          >
            <FormGroup label="Path to a bundle file or kit folder" fieldId="import-path">
              <InputGroup>
                <InputGroupItem isFill>
                  <TextInput id="import-path" value={path} onChange={(_e, v) => setPath(v)} placeholder="/media/usb/offline-kit" spellCheck={false} />
                </InputGroupItem>
                {nativePicker && (
                  <>
                    <InputGroupItem>
                      <Button variant="control" onClick={() => void pick('file', setPath)}>
                        Choose file…
                      </Button>
                    </InputGroupItem>
                    <InputGroupItem>
                      <Button variant="control" onClick={() => void pick('directory', setPath)}>
                        Choose folder…
                      </Button>
                    </InputGroupItem>
                  </>
                )}
              </InputGroup>
            </FormGroup>
            <FormGroup label="Trusted public key files for this run (one path per line; the workspace's pinned keys are always used)" fieldId="import-keys">
              <TextArea id="import-keys" rows={2} value={keyText} onChange={(_e, v) => setKeyText(v)} spellCheck={false} resizeOrientation="vertical" />
            </FormGroup>
            <FormGroup label="age identity files, for encrypted bundles (optional, one per line)" fieldId="import-identities">
              <TextArea id="import-identities" rows={1} value={identityText} onChange={(_e, v) => setIdentityText(v)} spellCheck={false} resizeOrientation="vertical" />
            </FormGroup>
            <ExpandableSection toggleText="Import options" isExpanded={optionsOpen} onToggle={(_e, v) => setOptionsOpen(v)}>
              <Checkbox id="import-dry-run" label="Dry run: verify and show the plan, change nothing" isChecked={dryRun} onChange={(_e, v) => setDryRun(v)} />
              <FormGroup label="Force reason (only to re-import a full bundle that is not newer than staging; recorded in the audit log)" fieldId="import-force" className="pf-v6-u-mt-md">
                <TextInput id="import-force" value={forceReason} onChange={(_e, v) => setForceReason(v)} placeholder="e.g. CHG-1234 restore after corrupted staging" />
              </FormGroup>
            </ExpandableSection>
            <ActionGroup>
              <Button type="submit" variant="secondary" isDisabled={blocked}>
                Verify
              </Button>
              <Button variant="primary" isDisabled={blocked || otherWriter} onClick={() => start.mutate('import')}>
                Import into staging
              </Button>
            </ActionGroup>
            {running && (
              <FormHelperText>
                <HelperText>
                  <HelperTextItem variant="indeterminate">A job started here is still running: wait for it or cancel it before starting another.</HelperTextItem>
                </HelperText>
              </FormHelperText>
            )}
            {otherWriter && (
              <FormHelperText>
                <HelperText>
                  <HelperTextItem variant="indeterminate">Import is unavailable. {writer.reason}</HelperTextItem>
                </HelperText>
              </FormHelperText>
            )}
          </Form>
          {pickError !== null && <ErrorDetails error={pickError} title="File picker" />}
          {start.error && <ErrorDetails error={toShape(start.error)} title="The job could not start" />}
        </CardBody>
      </Card>
      {jobId && <JobPanel jobId={jobId} polled={polled.data} pollError={polled.error} />}
    </Flex>
  );
}

function JobPanel({ jobId, polled, pollError }: { jobId: string; polled: JobInfo | undefined; pollError: unknown }) {
  const invoke = useInvoke();
  const progress = useJobStore((s) => s.progressById[jobId]);
  const doneEvent = useJobStore((s) => s.doneById[jobId]);
  const cancel = useMutation({ mutationFn: () => invoke('jobs.cancel', { jobId }) });
  const info: JobInfo | undefined = doneEvent ?? polled;
  const running = !info || info.state === 'running';

  return (
    <Card component="section" aria-label={running ? 'Job in progress' : 'Job result'}>
      <CardTitle component="h2">{info?.kind === 'import' ? 'Import' : 'Verification'}</CardTitle>
      <CardBody>
        {running ? (
          <>
            <JobProgressBar progress={progress ?? info?.progress} label="Progress" />
            <Button variant="secondary" isDanger onClick={() => cancel.mutate()} isDisabled={cancel.isPending} className="pf-v6-u-mt-sm">
              Cancel
            </Button>
          </>
        ) : (
          <JobResult info={info} />
        )}
        {pollError !== null && pollError !== undefined && <ErrorDetails error={pollError} />}
      </CardBody>
    </Card>
  );
}

function JobResult({ info }: { info: JobInfo }) {
  return (
    <Flex direction={{ default: 'column' }} gap={{ default: 'gapMd' }}>
      {/* A refusal without a verdict or summary (cancel, environment): the error is the result. */}
      {info.error && !info.verdict && !info.import && <ErrorDetails error={info.error} title={info.state === 'cancelled' ? 'Cancelled' : 'Refused'} variant={info.state === 'cancelled' ? 'warning' : 'danger'} />}
      {info.import ? <ImportSummaryView summary={info.import} /> : info.verdict && <VerdictView verdict={info.verdict} />}
      {info.status && (
        <section aria-label="Staging after import">
          <h3>Staging now</h3>
          <DescriptionList isCompact isHorizontal>
            <DescriptionListGroup>
              <DescriptionListTerm>Current export</DescriptionListTerm>
              <DescriptionListDescription>{info.status.exportId ? <code>{info.status.exportId}</code> : 'nothing applied'}</DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>Generation</DescriptionListTerm>
              <DescriptionListDescription>{info.status.generation ?? '–'}</DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>State digest</DescriptionListTerm>
              <DescriptionListDescription>
                <code title={info.status.stateDigest ?? undefined}>{shortDigest(info.status.stateDigest)}</code>
              </DescriptionListDescription>
            </DescriptionListGroup>
          </DescriptionList>
        </section>
      )}
    </Flex>
  );
}

/** The import: verdict on top (applied, plan or refused with code, cause, action), then one collapsible section per bundle. */
export function ImportSummaryView({ summary }: { summary: ImportSummary }) {
  const word = summary.ok ? (summary.dryRun ? 'Plan' : 'Applied') : 'Refused';
  return (
    <section className={`okc-verdict ${summary.ok ? 'okc-verdict-ok' : 'okc-verdict-bad'}`} aria-label="Import result">
      <StatusLabel tone={summary.ok ? 'ok' : 'bad'}>{word}</StatusLabel>
      {summary.ok ? (
        <p className="pf-v6-u-mt-sm">{summary.message}</p>
      ) : (
        <ErrorDetails plain error={{ code: summary.code ?? 'ERR_INTERNAL', message: summary.message, action: summary.action ?? undefined }} title="Why the import was refused" />
      )}
      {summary.missing.length > 0 && <p className="okc-bad">Missing generations: {summary.missing.join(', ')}</p>}
      {summary.warnings.length > 0 && <Warnings warnings={summary.warnings} />}
      <h3 className="pf-v6-u-mt-md">Bundles, in application order</h3>
      <div aria-label="Bundles" role="list">
        {summary.items.map((it, i) => {
          const ok = it.code === null;
          return (
            <div role="listitem" key={`${it.path}-${i}`} aria-label={`${it.path.split(/[\\/]/).pop()}: ${it.outcome}`}>
              <BundleSection title={it.path.split(/[\\/]/).pop() || it.path} ok={ok} code={it.code} outcome={it.outcome} subtitle={[it.kind, it.generation !== null ? `generation ${it.generation}` : null].filter(Boolean).join(', ')}>
                <p>{it.message}</p>
                {!ok && !it.verdict && it.code !== summary.code && <ErrorDetails plain error={{ code: it.code!, message: it.message }} title={`Why ${it.path} was refused`} />}
                {it.verdict && <VerdictView verdict={it.verdict} nested />}
              </BundleSection>
            </div>
          );
        })}
      </div>
    </section>
  );
}
