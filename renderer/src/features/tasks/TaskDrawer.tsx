/**
 * The global task indicator and drawer: every job from jobs.list with live
 * progress (verify → extract → apply → switch), bytes, instantaneous rate, %,
 * ETA, elapsed, "bundle k of n", and Cancel. Mounted once in the masthead.
 */
import { useState } from 'react';
import {
  Badge,
  Button,
  Card,
  CardBody,
  CardHeader,
  CardTitle,
  Content,
  Flex,
  Label,
  Progress,
  ProgressMeasureLocation,
  ProgressStep,
  ProgressStepper,
  Title,
} from '@patternfly/react-core';
import TasksIcon from '@patternfly/react-icons/dist/esm/icons/tasks-icon';
import TimesIcon from '@patternfly/react-icons/dist/esm/icons/times-icon';
import type { JobInfo } from '../../../../shared/contract';
import { JOB_STEPS, type JobProgress } from '../../../../shared/types';
import { useInvoke } from '../../api/ApiProvider';
import { formatBytes } from '../../components/format';
import { formatDuration, KIND_LABEL, useJobs } from './jobs';

const STEP_LABEL = { verify: 'Verify', extract: 'Extract', apply: 'Apply', switch: 'Switch' } as const;

function stepVariant(job: JobInfo, i: number): 'success' | 'info' | 'pending' | 'danger' | 'default' {
  const cur = job.progress?.step ? JOB_STEPS.indexOf(job.progress.step) : -1;
  if (job.state === 'succeeded') return 'success';
  if (i < cur) return 'success';
  if (i === cur) return job.state === 'running' ? 'info' : 'danger';
  return 'pending';
}

/** One line of progress text: "bundle 2 of 4 · apply · 12.0 MiB of 24.0 MiB (50 %) · 8.0 MiB/s · ETA 2 s · elapsed 9 s". */
export function progressText(p: JobProgress | null | undefined, startedAt?: string): string {
  if (!p) return `Waiting for the first progress report${startedAt ? ` (started ${startedAt.slice(11, 19)} UTC)` : ''}.`;
  const parts: string[] = [];
  if (p.bundleIndex && p.bundleCount) parts.push(`bundle ${p.bundleIndex} of ${p.bundleCount}${p.bundle ? ` (${p.bundle})` : ''}`);
  parts.push(p.step ?? p.phase);
  parts.push(`${formatBytes(p.bytesDone)}${p.bytesTotal !== null ? ` of ${formatBytes(p.bytesTotal)}` : ''}${typeof p.percent === 'number' ? ` (${p.percent} %)` : ''}`);
  if (p.bytesPerSecond) parts.push(`${formatBytes(p.bytesPerSecond)}/s`);
  if (typeof p.etaSeconds === 'number') parts.push(`ETA ${formatDuration(p.etaSeconds * 1000)}`);
  if (typeof p.elapsedMs === 'number') parts.push(`elapsed ${formatDuration(p.elapsedMs)}`);
  return parts.join(' · ');
}

const STATE_COLOR = { running: 'blue', succeeded: 'green', failed: 'red', cancelled: 'grey' } as const;

export function JobCard({ job }: { job: JobInfo }) {
  const invoke = useInvoke();
  const [cancelling, setCancelling] = useState(false);
  const p = job.progress;
  const isImport = job.kind === 'import' || job.kind === 'restore-apply';
  return (
    <Card isCompact isPlain={false} data-testid={`job-${job.jobId}`} aria-label={`${KIND_LABEL[job.kind]} ${job.state}`}>
      <CardHeader
        actions={{
          actions:
            job.state === 'running' ? (
              <Button
                variant="secondary"
                isDanger
                size="sm"
                isDisabled={cancelling}
                onClick={() => {
                  setCancelling(true);
                  void invoke('jobs.cancel', { jobId: job.jobId }).finally(() => setCancelling(false));
                }}
              >
                {cancelling ? 'Cancelling…' : 'Cancel'}
              </Button>
            ) : null,
        }}
      >
        <CardTitle>
          <Flex gap={{ default: 'gapSm' }} alignItems={{ default: 'alignItemsCenter' }}>
            <span>{KIND_LABEL[job.kind]}</span>
            <Label isCompact color={STATE_COLOR[job.state]}>
              {job.state}
            </Label>
          </Flex>
        </CardTitle>
      </CardHeader>
      <CardBody>
        {job.paths.length > 0 && (
          <Content component="small" className="okc-break">
            {job.paths.join(', ')}
          </Content>
        )}
        {isImport && (
          <ProgressStepper isCompact aria-label="Import steps">
            {JOB_STEPS.map((s, i) => (
              <ProgressStep key={s} id={`${job.jobId}-${s}`} titleId={`${job.jobId}-${s}-t`} variant={stepVariant(job, i)} isCurrent={job.state === 'running' && job.progress?.step === s}>
                {STEP_LABEL[s]}
              </ProgressStep>
            ))}
          </ProgressStepper>
        )}
        {job.state === 'running' && (
          <Progress
            aria-label={`${KIND_LABEL[job.kind]} progress`}
            value={typeof p?.percent === 'number' ? p.percent : undefined}
            measureLocation={typeof p?.percent === 'number' ? ProgressMeasureLocation.outside : ProgressMeasureLocation.none}
            size="sm"
          />
        )}
        <Content component="p" aria-live="polite" data-testid="job-progress-text">
          {job.state === 'running' ? progressText(p, job.startedAt) : job.error ? `[${job.error.code}] ${job.error.message}` : (job.import?.message ?? job.restore?.result?.message ?? job.restore?.plan?.message ?? job.verdict?.message ?? 'Done.')}
        </Content>
      </CardBody>
    </Card>
  );
}

/** The masthead indicator (running count) and the drawer it opens. */
export function TaskDrawer() {
  const jobs = useJobs();
  const [open, setOpen] = useState(false);
  const running = jobs.filter((j) => j.state === 'running').length;
  return (
    <>
      <Button variant="plain" aria-label={`Tasks: ${running} running`} aria-expanded={open} onClick={() => setOpen((o) => !o)} icon={<TasksIcon />} data-testid="task-indicator">
        {running > 0 && <Badge isRead={false}>{running}</Badge>}
      </Button>
      {open && (
        <aside className="okc-task-drawer" aria-label="Tasks" role="complementary">
          <Flex justifyContent={{ default: 'justifyContentSpaceBetween' }} alignItems={{ default: 'alignItemsCenter' }}>
            <Title headingLevel="h2" size="lg">
              Tasks
            </Title>
            <Button variant="plain" aria-label="Close tasks" icon={<TimesIcon />} onClick={() => setOpen(false)} />
          </Flex>
          {jobs.length === 0 ? <Content component="p">No job has run since the console started.</Content> : jobs.slice(0, 20).map((j) => <JobCard key={j.jobId} job={j} />)}
        </aside>
      )}
    </>
  );
}
