/** Status labels with PatternFly icons (never colour alone: the word is always there). */
import { Label } from '@patternfly/react-core';
import CheckCircleIcon from '@patternfly/react-icons/dist/esm/icons/check-circle-icon';
import ExclamationCircleIcon from '@patternfly/react-icons/dist/esm/icons/exclamation-circle-icon';
import ExclamationTriangleIcon from '@patternfly/react-icons/dist/esm/icons/exclamation-triangle-icon';
import InfoCircleIcon from '@patternfly/react-icons/dist/esm/icons/info-circle-icon';

export type Tone = 'ok' | 'bad' | 'warn' | 'info' | 'neutral';

const TONE: Record<Tone, { status?: 'success' | 'danger' | 'warning' | 'info'; icon?: React.ReactNode }> = {
  ok: { status: 'success', icon: <CheckCircleIcon /> },
  bad: { status: 'danger', icon: <ExclamationCircleIcon /> },
  warn: { status: 'warning', icon: <ExclamationTriangleIcon /> },
  info: { status: 'info', icon: <InfoCircleIcon /> },
  neutral: {},
};

export function StatusLabel({ tone, children, compact = false }: { tone: Tone; children: React.ReactNode; compact?: boolean }) {
  const t = TONE[tone];
  return (
    <Label status={t.status} icon={t.status ? undefined : t.icon} isCompact={compact} variant={tone === 'neutral' ? 'outline' : 'filled'}>
      {children}
    </Label>
  );
}

/** The tone of a step/run/job state word from the engine. */
export function toneOf(state: string): Tone {
  if (['succeeded', 'done', 'passed', 'confirmed', 'pass', 'applied', 'installed', 'active', 'ok', 'already-applied', 'planned'].includes(state)) return 'ok';
  if (['failed', 'blocked', 'fail', 'refused', 'declined', 'revoked'].includes(state)) return 'bad';
  if (['warned', 'warn', 'cancelled', 'unknown', 'not-applied'].includes(state)) return 'warn';
  if (['in_progress', 'running', 'not_started'].includes(state)) return 'info';
  return 'neutral';
}
