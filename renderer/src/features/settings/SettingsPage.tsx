import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import {
  ActionGroup,
  Button,
  Card,
  CardBody,
  CardTitle,
  Flex,
  Form,
  FormGroup,
  FormSection,
  TextInput,
} from '@patternfly/react-core';
import type { Settings } from '../../../../shared/settings';
import { useInvoke } from '../../api/ApiProvider';
import { ErrorDetails } from '../../components/ErrorDetails';
import { Loading } from '../../components/Loading';
import { formatBytes } from '../../components/format';

const GiB = 1024 ** 3;

export function SettingsPage() {
  const invoke = useInvoke();
  const settings = useQuery({ queryKey: ['settings', 'get'], queryFn: () => invoke('settings.get', {}) });
  return (
    <Flex direction={{ default: 'column' }} gap={{ default: 'gapMd' }}>
      <Card component="section" aria-label="Workspace settings">
        <CardTitle component="h2">Workspace settings</CardTitle>
        <CardBody>
          {settings.isPending && <Loading what="settings" />}
          {settings.error && <ErrorDetails error={settings.error} title="Settings unavailable" />}
          {settings.data && <SettingsForm initial={settings.data} save={({ settings: s, reason }) => invoke('settings.set', { settings: s, reason })} />}
        </CardBody>
      </Card>
    </Flex>
  );
}

function NumberField({ id, label, value, onChange, min, max }: { id: string; label: string; value: number; onChange: (v: number) => void; min?: number; max?: number }) {
  return (
    <FormGroup label={label} fieldId={id}>
      <TextInput id={id} type="number" min={min} max={max} value={Number.isNaN(value) ? '' : value} onChange={(_e, v) => onChange(v.trim() === '' ? NaN : Number(v))} />
    </FormGroup>
  );
}

function SettingsForm({ initial, save }: { initial: Settings; save: (change: { settings: Settings; reason: string }) => Promise<Settings> }) {
  const [draft, setDraft] = useState<Settings>(initial);
  // Every change carries a written reason (the change record), recorded with it in the audit log.
  const [reason, setReason] = useState('');
  const mutation = useMutation({ mutationFn: save });
  const r = draft.retention;
  const c = draft.capacity;

  return (
    <Form
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        mutation.mutate({ settings: draft, reason });
      }}
    >
      <FormSection title="Operator" titleElement="h3">
        <FormGroup label="Operator name recorded in the audit log" fieldId="set-operator">
          <TextInput id="set-operator" value={draft.operator} onChange={(_e, v) => setDraft({ ...draft, operator: v })} />
        </FormGroup>
      </FormSection>
      <FormSection title="Staging" titleElement="h3">
        <NumberField id="set-keep" label="Generations kept for rollback (besides the current one)" min={1} max={50} value={draft.keepGenerations} onChange={(v) => setDraft({ ...draft, keepGenerations: v })} />
        <NumberField id="set-stale" label="Data is stale after (hours)" min={1} value={draft.stalenessHours} onChange={(v) => setDraft({ ...draft, stalenessHours: v })} />
      </FormSection>
      <FormSection title="Retention (runbook 5.2)" titleElement="h3">
        <NumberField id="set-mirror-days" label="Keep mirror bundles for (days)" min={1} value={r.mirrorDays} onChange={(v) => setDraft({ ...draft, retention: { ...r, mirrorDays: v } })} />
        <NumberField id="set-trivy-count" label="Trivy bundles kept" min={1} value={r.trivyCount} onChange={(v) => setDraft({ ...draft, retention: { ...r, trivyCount: v } })} />
        <NumberField id="set-keep-deltas" label="Deltas kept after the latest full bundle" min={0} value={r.keepDeltas} onChange={(v) => setDraft({ ...draft, retention: { ...r, keepDeltas: v } })} />
      </FormSection>
      <FormSection title="Capacity" titleElement="h3">
        <NumberField id="set-warn" label="Warn when staging + library exceed (GiB)" min={1} value={c.warnBytes / GiB} onChange={(v) => setDraft({ ...draft, capacity: { ...c, warnBytes: Math.round(v * GiB) } })} />
        <NumberField id="set-fail" label="Fail when staging + library exceed (GiB)" min={1} value={c.failBytes / GiB} onChange={(v) => setDraft({ ...draft, capacity: { ...c, failBytes: Math.round(v * GiB) } })} />
        <p className="okc-muted">
          Free space: warn below {formatBytes(c.warnFreeBytes)}, fail below {formatBytes(c.failFreeBytes)}. Bundle limits: {formatBytes(draft.limits.maxTotalBytes)} unpacked, {draft.limits.maxMembers} members.
        </p>
      </FormSection>
      <FormSection title="Change record" titleElement="h3">
        <FormGroup label="Reason for the change (recorded in the audit log)" fieldId="set-reason">
          <TextInput id="set-reason" placeholder="e.g. CHG-123 longer retention for the audit" value={reason} onChange={(_e, v) => setReason(v)} />
        </FormGroup>
      </FormSection>
      <ActionGroup>
        <Button type="submit" variant="primary" isDisabled={mutation.isPending}>
          Save settings
        </Button>
      </ActionGroup>
      {mutation.error && <ErrorDetails error={mutation.error} title="Settings not saved" />}
      {mutation.isSuccess && <p role="status">Settings saved.</p>}
    </Form>
  );
}
