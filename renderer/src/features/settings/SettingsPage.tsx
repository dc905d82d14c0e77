import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import type { Settings } from '../../../../shared/settings';
import { useInvoke } from '../../api/ApiProvider';
import { ErrorPanel } from '../../components/ErrorPanel';
import { Loading } from '../../components/Loading';
import { formatBytes } from '../../components/format';

const GiB = 1024 ** 3;

export function SettingsPage() {
  const invoke = useInvoke();
  const settings = useQuery({ queryKey: ['settings', 'get'], queryFn: () => invoke('settings.get', {}) });
  return (
    <section className="card card-wide" aria-label="Workspace settings">
      {settings.isPending && <Loading what="settings" />}
      {settings.error && <ErrorPanel error={settings.error} title="Settings unavailable" />}
      {settings.data && <SettingsForm initial={settings.data} save={({ settings: s, reason }) => invoke('settings.set', { settings: s, reason })} />}
    </section>
  );
}

function SettingsForm({ initial, save }: { initial: Settings; save: (change: { settings: Settings; reason: string }) => Promise<Settings> }) {
  const [draft, setDraft] = useState<Settings>(initial);
  // Every change carries a written reason (the change record), recorded with it in the audit log.
  const [reason, setReason] = useState('');
  const mutation = useMutation({ mutationFn: save });
  const num = (v: string) => (v.trim() === '' ? NaN : Number(v));

  return (
    <form
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        mutation.mutate({ settings: draft, reason });
      }}
    >
      <fieldset>
        <legend>Operator</legend>
        <label htmlFor="set-operator">Operator name recorded in the audit log</label>
        <input id="set-operator" type="text" value={draft.operator} onChange={(e) => setDraft({ ...draft, operator: e.target.value })} />
      </fieldset>
      <fieldset>
        <legend>Staging</legend>
        <label htmlFor="set-keep">Generations kept for rollback (besides the current one)</label>
        <input id="set-keep" type="number" min={1} max={50} value={draft.keepGenerations} onChange={(e) => setDraft({ ...draft, keepGenerations: num(e.target.value) })} />
        <label htmlFor="set-stale">Data is stale after (hours)</label>
        <input id="set-stale" type="number" min={1} value={draft.stalenessHours} onChange={(e) => setDraft({ ...draft, stalenessHours: num(e.target.value) })} />
      </fieldset>
      <fieldset>
        <legend>Retention (runbook 5.2)</legend>
        <label htmlFor="set-mirror-days">Keep mirror bundles for (days)</label>
        <input id="set-mirror-days" type="number" min={1} value={draft.retention.mirrorDays} onChange={(e) => setDraft({ ...draft, retention: { ...draft.retention, mirrorDays: num(e.target.value) } })} />
        <label htmlFor="set-trivy-count">Trivy bundles kept</label>
        <input id="set-trivy-count" type="number" min={1} value={draft.retention.trivyCount} onChange={(e) => setDraft({ ...draft, retention: { ...draft.retention, trivyCount: num(e.target.value) } })} />
        <label htmlFor="set-keep-deltas">Deltas kept after the latest full bundle</label>
        <input id="set-keep-deltas" type="number" min={0} value={draft.retention.keepDeltas} onChange={(e) => setDraft({ ...draft, retention: { ...draft.retention, keepDeltas: num(e.target.value) } })} />
      </fieldset>
      <fieldset>
        <legend>Capacity</legend>
        <label htmlFor="set-warn">Warn when staging + library exceed (GiB)</label>
        <input id="set-warn" type="number" min={1} value={draft.capacity.warnBytes / GiB} onChange={(e) => setDraft({ ...draft, capacity: { ...draft.capacity, warnBytes: Math.round(num(e.target.value) * GiB) } })} />
        <label htmlFor="set-fail">Fail when staging + library exceed (GiB)</label>
        <input id="set-fail" type="number" min={1} value={draft.capacity.failBytes / GiB} onChange={(e) => setDraft({ ...draft, capacity: { ...draft.capacity, failBytes: Math.round(num(e.target.value) * GiB) } })} />
        <p className="muted">
          Free space: warn below {formatBytes(draft.capacity.warnFreeBytes)}, fail below {formatBytes(draft.capacity.failFreeBytes)}. Bundle limits: {formatBytes(draft.limits.maxTotalBytes)} unpacked, {draft.limits.maxMembers} members.
        </p>
      </fieldset>
      <fieldset>
        <legend>Change record</legend>
        <label htmlFor="set-reason">Reason for the change (recorded in the audit log)</label>
        <input id="set-reason" type="text" placeholder="e.g. CHG-123 longer retention for the audit" value={reason} onChange={(e) => setReason(e.target.value)} />
      </fieldset>
      <button type="submit" className="primary" disabled={mutation.isPending}>
        Save settings
      </button>
      {mutation.error && <ErrorPanel error={mutation.error} title="Settings not saved" />}
      {mutation.isSuccess && <p role="status">Settings saved.</p>}
    </form>
  );
}
