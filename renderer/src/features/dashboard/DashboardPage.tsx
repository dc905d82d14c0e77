/**
 * Health at a glance (issue 11): the engine's one health report (health.get,
 * the same figures as `mirror status`) rendered: freshness badge, the
 * delta-chain timeline, storage against thresholds with a trend chart,
 * the last import, unacknowledged failures with their runbook action, keys
 * per tenant, today's checklist, and the import/verification history.
 */
import { useEffect, useMemo } from 'react';
import { Alert, Button, Card, CardBody, CardTitle, Content, DescriptionList, DescriptionListDescription, DescriptionListGroup, DescriptionListTerm, Flex, Gallery, Label, List, ListItem, Progress, ProgressVariant } from '@patternfly/react-core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import type { HealthReport, HealthStatus } from '../../../../shared/health';
import { useApi, useInvoke } from '../../api/ApiProvider';
import { useAppInfo, useDemoKit, useWorkspaceStatus } from '../../api/queries';
import { useNav } from '../../app/navStore';
import { ErrorPanel } from '../../components/ErrorPanel';
import { Loading } from '../../components/Loading';
import { formatBytes, formatTime, shortDigest } from '../../components/format';
import { useImportStore } from '../import/store';
import { TimeChart } from './Chart';

const STATUS_LABEL: Record<HealthStatus, { text: string; color: 'green' | 'orange' | 'red' | 'grey' }> = {
  pass: { text: 'OK', color: 'green' },
  warn: { text: 'Warning', color: 'orange' },
  fail: { text: 'Failing', color: 'red' },
  unknown: { text: 'Unknown', color: 'grey' },
};

export function StatusLabel({ status, prefix }: { status: HealthStatus; prefix?: string }) {
  const s = STATUS_LABEL[status];
  return (
    <Label color={s.color} isCompact>
      {prefix ? `${prefix}: ` : ''}
      {s.text}
    </Label>
  );
}

/** health.get, refreshed whenever anything changes on disk. */
export function useHealth() {
  const invoke = useInvoke();
  const api = useApi();
  const qc = useQueryClient();
  useEffect(() => api.subscribe('data.changed', () => void qc.invalidateQueries({ queryKey: ['workspace', 'health'] })), [api, qc]);
  return useQuery({ queryKey: ['workspace', 'health'], queryFn: () => invoke('health.get', {}) });
}

function HealthCard({ title, status, children, wide }: { title: string; status: HealthStatus; children: React.ReactNode; wide?: boolean }) {
  return (
    <Card component="section" aria-label={title} className={wide ? 'okc-card-wide' : undefined}>
      <CardTitle>
        <Flex gap={{ default: 'gapSm' }} alignItems={{ default: 'alignItemsCenter' }}>
          <span>{title}</span>
          <StatusLabel status={status} />
        </Flex>
      </CardTitle>
      <CardBody>{children}</CardBody>
    </Card>
  );
}

const POINT_COLOR = { current: 'blue', applied: 'green', library: 'teal', failed: 'red', missing: 'orange' } as const;
const POINT_TEXT = { current: 'current', applied: 'applied', library: 'in library, not applied', failed: 'failed', missing: 'missing (gap)' } as const;

export function ChainTimeline({ chain }: { chain: HealthReport['chain'] }) {
  if (!chain.points.length) return <Content component="p">{chain.summary}</Content>;
  return (
    <>
      <Content component="p">{chain.summary}</Content>
      <ol className="okc-timeline" aria-label="Delta chain, full bundle first">
        {chain.points.map((p) => (
          <li key={p.generation} className={`okc-timeline-point okc-timeline-${p.state}`}>
            <Label color={POINT_COLOR[p.state]} variant={p.state === 'missing' ? 'outline' : 'filled'} isCompact>
              {p.kind === 'full' ? 'Full' : 'Δ'} {p.generation}
            </Label>
            <span className="okc-timeline-text">
              {POINT_TEXT[p.state]}
              {p.code ? ` [${p.code}]` : ''}
            </span>
          </li>
        ))}
      </ol>
    </>
  );
}

function StorageCard({ s }: { s: HealthReport['storage'] }) {
  const pct = s.thresholds.failBytes > 0 ? Math.min(100, Math.round((s.usedBytes / s.thresholds.failBytes) * 1000) / 10) : 0;
  const variant = s.status === 'fail' ? ProgressVariant.danger : s.status === 'warn' ? ProgressVariant.warning : undefined;
  const times = useMemo(() => s.trend.map((p) => Date.parse(p.at)), [s.trend]);
  const series = useMemo(
    () => [
      { label: 'Staging', stroke: 'var(--pf-t--chart--color--blue--300, #4394e5)', values: s.trend.map((p) => p.stagingBytes), format: (v: number | null) => formatBytes(v) },
      { label: 'Library', stroke: 'var(--pf-t--chart--color--green--300, #63bd5e)', values: s.trend.map((p) => p.libraryBytes), format: (v: number | null) => formatBytes(v) },
    ],
    [s.trend],
  );
  const text = `Staging ${formatBytes(s.stagingBytes)} + library ${formatBytes(s.libraryBytes)} = ${formatBytes(s.usedBytes)} of the ${formatBytes(s.thresholds.failBytes)} failure level (warning at ${formatBytes(s.thresholds.warnBytes)}); ${s.freeBytes === null ? 'free space unknown' : `${formatBytes(s.freeBytes)} free on the volume`}.`;
  return (
    <HealthCard title="Storage" status={s.status} wide>
      <Progress value={pct} title="Staging + library against the failure level" variant={variant} aria-label="Storage used against the failure level" />
      <Content component="p">{text}</Content>
      {s.status !== 'pass' && <Content component="p">{s.summary}</Content>}
      {s.trend.length > 0 && <TimeChart title="Storage over time" times={times} series={series} summary={`${s.trend.length} points from ${formatTime(s.trend[0].at)} to ${formatTime(s.trend[s.trend.length - 1].at)}.`} />}
    </HealthCard>
  );
}

function HistoryCard({ h }: { h: HealthReport['history'] }) {
  const times = useMemo(() => h.map((p) => Date.parse(p.at)), [h]);
  const series = useMemo(
    () => [
      { label: 'Generation imported', stroke: 'var(--pf-t--chart--color--green--300, #63bd5e)', points: true, values: h.map((p) => (p.kind === 'import' && p.ok ? p.generation : null)), format: (v: number | null) => (v === null ? '–' : String(v)) },
      { label: 'Refused or failed', stroke: 'var(--pf-t--chart--color--red--300, #f0561d)', points: true, values: h.map((p) => (!p.ok ? (p.generation ?? 0) : null)), format: (v: number | null) => (v === null ? '–' : String(v)) },
      { label: 'Verified', stroke: 'var(--pf-t--chart--color--blue--300, #4394e5)', points: true, values: h.map((p) => (p.kind === 'verify' && p.ok ? (p.generation ?? 0) : null)), format: (v: number | null) => (v === null ? '–' : String(v)) },
    ],
    [h],
  );
  const failed = h.filter((p) => !p.ok).length;
  return (
    <Card component="section" aria-label="Import and verification history" className="okc-card-wide">
      <CardTitle>Import and verification history</CardTitle>
      <CardBody>
        {h.length === 0 ? (
          <Content component="p">No import or verification recorded yet.</Content>
        ) : (
          <TimeChart title="Imports and verifications over time" times={times} series={series} summary={`${h.length} events (${failed} refused or failed), by generation.`} />
        )}
      </CardBody>
    </Card>
  );
}

export function HealthView({ h }: { h: HealthReport }) {
  const go = useNav((s) => s.go);
  return (
    <>
      <Flex gap={{ default: 'gapMd' }} alignItems={{ default: 'alignItemsCenter' }} className="okc-health-head">
        <StatusLabel status={h.overall} prefix="Health" />
        <span data-testid="freshness-badge">
          <Label color={STATUS_LABEL[h.freshness.status].color}>
            {h.freshness.clockBehind ? 'Data age unknown (host clock behind data)' : h.freshness.ageHours === null ? 'Data age unknown' : `Data ${h.freshness.ageHours} h old (budget ${h.freshness.budgetHours} h)`}
          </Label>
        </span>
        {h.importsFrozen && <Label color="red">Imports frozen: {h.importsFrozen.reason ?? 'no reason recorded'}</Label>}
      </Flex>
      <Gallery hasGutter minWidths={{ default: '18rem' }} className="okc-health-grid">
        <HealthCard title="Freshness" status={h.freshness.status}>
          <Content component="p">{h.freshness.summary}</Content>
          {h.freshness.newest && (
            <Content component="small">
              Newest applied: {h.freshness.newest.exportId} (generation {h.freshness.newest.generation}), created {formatTime(h.freshness.newest.createdAt)}
            </Content>
          )}
        </HealthCard>
        <HealthCard title="Delta chain" status={h.chain.status} wide>
          <ChainTimeline chain={h.chain} />
        </HealthCard>
        <StorageCard s={h.storage} />
        <HealthCard title="Last import" status={h.lastImport.status}>
          <Content component="p">{h.lastImport.summary}</Content>
          {h.lastImport.advice && (
            <Alert isInline isPlain variant="warning" title={`What to do: ${h.lastImport.advice.action}`}>
              {h.lastImport.advice.cause}
            </Alert>
          )}
        </HealthCard>
        <HealthCard title="Unacknowledged failures" status={h.failures.status} wide>
          <Content component="p">{h.failures.count === 0 ? 'None: every failure has been acknowledged.' : `${h.failures.count} failure(s) since ${h.failures.since ? formatTime(h.failures.since) : 'the logs began'}, not yet acknowledged.`}</Content>
          {h.failures.items.length > 0 && (
            <List isPlain aria-label="Failures">
              {h.failures.items.slice(0, 5).map((f, i) => (
                <ListItem key={`${f.ts}-${i}`}>
                  <Label color="red" isCompact>
                    {f.code ?? f.event}
                  </Label>{' '}
                  {formatTime(f.ts)} {f.message}
                  {f.advice && <div className="okc-advice">What to do: {f.advice.action}</div>}
                </ListItem>
              ))}
            </List>
          )}
        </HealthCard>
        <HealthCard title="Keys per tenant" status={h.keys.status}>
          <Content component="p">{h.keys.summary}</Content>
          {h.keys.tenants.length > 0 && (
            <DescriptionList isCompact isHorizontal>
              {h.keys.tenants.map((t) => (
                <DescriptionListGroup key={t.tenant}>
                  <DescriptionListTerm>{t.tenant}</DescriptionListTerm>
                  <DescriptionListDescription>
                    {t.active === 0 ? <Label color="red" isCompact>no trusted key</Label> : `${t.active} active key(s)`}
                  </DescriptionListDescription>
                </DescriptionListGroup>
              ))}
            </DescriptionList>
          )}
          <Button variant="link" isInline onClick={() => go('keys')}>
            Open keys
          </Button>
        </HealthCard>
        <Card component="section" aria-label="Daily checklist">
          <CardTitle>
            <Flex gap={{ default: 'gapSm' }}>
              <span>Daily checklist</span>
              <StatusLabel status={h.checklist.status} />
            </Flex>
          </CardTitle>
          <CardBody>
            <Content component="p">{h.checklist.runId ? `Today: ${h.checklist.state?.replace('_', ' ')}, ${h.checklist.done} of ${h.checklist.total} steps done.` : 'Not run yet.'}</Content>
            <Content component="small">{h.checklist.summary}</Content>
            <div>
              <Button variant="link" isInline onClick={() => go('checklists')}>
                Open checklists
              </Button>
            </div>
          </CardBody>
        </Card>
        <HealthCard title="Retention" status={h.retention.status}>
          <Content component="p">{h.retention.summary}</Content>
        </HealthCard>
        <HistoryCard h={h.history} />
      </Gallery>
    </>
  );
}

export function DashboardPage() {
  const info = useAppInfo();
  const status = useWorkspaceStatus();
  const demo = useDemoKit();
  const health = useHealth();
  const go = useNav((s) => s.go);
  const prefill = useImportStore((s) => s.prefill);
  const empty = status.data ? status.data.generation === null && status.data.library.length === 0 : (info.data?.workspaceEmpty ?? false);
  const offerDemo = empty && demo.data?.present;

  return (
    <div className="okc-dashboard">
      {offerDemo && demo.data && (
        <Card component="section" aria-label="Get started">
          <CardTitle>Get started</CardTitle>
          <CardBody>
            <Content component="p">This workspace holds no staged export yet. The console ships a small signed demo kit (a full bundle, two deltas and a Trivy DB bundle) so you can try verification and import safely.</Content>
            {demo.data.keyFingerprint && (
              <Content component="small">
                Demo key: {demo.data.algorithm} <code>{demo.data.keyFingerprint}</code>
              </Content>
            )}
            <div>
              <Button
                variant="primary"
                onClick={() => {
                  prefill(demo.data!.path!, demo.data!.keyPath ? [demo.data!.keyPath] : []);
                  go('import');
                }}
              >
                Open the demo kit
              </Button>
            </div>
          </CardBody>
        </Card>
      )}
      {health.isPending && <Loading what="workspace health" />}
      {health.error && <ErrorPanel error={health.error} title="Health unavailable" />}
      {health.data && <HealthView h={health.data} />}
      <Gallery hasGutter minWidths={{ default: '18rem' }}>
        <Card component="section" aria-label="Staging">
          <CardTitle>Staging</CardTitle>
          <CardBody>
            {status.isPending && <Loading what="workspace status" />}
            {status.error && <ErrorPanel error={status.error} title="Workspace status unavailable" />}
            {status.data && (
              <DescriptionList isCompact isHorizontal>
                <DescriptionListGroup>
                  <DescriptionListTerm>Current export</DescriptionListTerm>
                  <DescriptionListDescription>{status.data.exportId ? <code>{status.data.exportId}</code> : 'nothing applied yet'}</DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>Generation</DescriptionListTerm>
                  <DescriptionListDescription>{status.data.generation ?? '–'}</DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>State digest</DescriptionListTerm>
                  <DescriptionListDescription>
                    <code title={status.data.stateDigest ?? ''}>{shortDigest(status.data.stateDigest)}</code>
                  </DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>Kept generations</DescriptionListTerm>
                  <DescriptionListDescription>{status.data.generations.length}</DescriptionListDescription>
                </DescriptionListGroup>
              </DescriptionList>
            )}
          </CardBody>
        </Card>
        <Card component="section" aria-label="Console">
          <CardTitle>Console</CardTitle>
          <CardBody>
            {info.error && <ErrorPanel error={info.error} />}
            {info.data && (
              <DescriptionList isCompact isHorizontal>
                <DescriptionListGroup>
                  <DescriptionListTerm>Version</DescriptionListTerm>
                  <DescriptionListDescription>{info.data.version}</DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>Workspace</DescriptionListTerm>
                  <DescriptionListDescription>
                    <code className="okc-break">{info.data.workspacePath}</code>
                  </DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>Node</DescriptionListTerm>
                  <DescriptionListDescription>{info.data.versions.node}</DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>Chromium</DescriptionListTerm>
                  <DescriptionListDescription>{info.data.versions.chromium ?? 'unknown'}</DescriptionListDescription>
                </DescriptionListGroup>
                <DescriptionListGroup>
                  <DescriptionListTerm>Electron</DescriptionListTerm>
                  <DescriptionListDescription>{info.data.versions.electron ?? 'not running in Electron'}</DescriptionListDescription>
                </DescriptionListGroup>
              </DescriptionList>
            )}
          </CardBody>
        </Card>
      </Gallery>
    </div>
  );
}
