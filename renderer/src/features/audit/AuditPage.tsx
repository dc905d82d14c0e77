/**
 * The audit log for people (issue 11): a virtual list over IPC paging
 * (react-query pages of 200 rows, fixed-height windowing: useRowWindow), the total,
 * debounced filters (action prefix, actor, subject, days), jump to a date,
 * a detail drawer with the row's own chain check, signed export, and the
 * chain verification whose result survives leaving the page.
 */
import { useEffect, useRef, useState } from 'react';
import {
  Alert,
  Button,
  Content,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Drawer,
  DrawerActions,
  DrawerCloseButton,
  DrawerContent,
  DrawerContentBody,
  DrawerHead,
  DrawerPanelBody,
  DrawerPanelContent,
  Flex,
  Label,
  TextInput,
  Title,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from '@patternfly/react-core';
import { useMutation, useQuery } from '@tanstack/react-query';
import { AuditExport } from './AuditExport';
import type { AuditRowView } from '../../../../shared/contract';
import { useInvoke } from '../../api/ApiProvider';
import { ErrorDetails } from '../../components/ErrorDetails';
import { Loading } from '../../components/Loading';
import { formatTime, shortDigest } from '../../components/format';
import { filterInput, useAuditRows, useDebouncedFilter } from './paging';
import { useRowWindow } from '../../components/useRowWindow';
import { useAuditUi } from './store';

const ROW_HEIGHT = 36;

/** A row that records a failure or refusal (shown as failed). */
export function isFailedRow(r: Pick<AuditRowView, 'action' | 'details'>): boolean {
  return /(\.failed|\.refused|_failed)$/.test(r.action) || (typeof r.details?.errorCode === 'string' && r.details.errorCode !== '');
}

/**
 * PatternFly's compact red Label as plain markup: the Label component measures
 * its text (offsetWidth) in a layout effect on every render, which forces a
 * layout per row while a virtual list scrolls.
 */
function FailedBadge() {
  return (
    <span className="pf-v6-c-label pf-m-red pf-m-filled pf-m-compact">
      <span className="pf-v6-c-label__content">
        <span className="pf-v6-c-label__text">failed</span>
      </span>
    </span>
  );
}

function RowDetail({ id, onClose }: { id: number; onClose(): void }) {
  const invoke = useInvoke();
  const q = useQuery({ queryKey: ['audit', 'row', id], queryFn: () => invoke('audit.row', { id }) });
  return (
    <DrawerPanelContent widths={{ default: 'width_50' }} aria-label={`Audit row ${id}`}>
      <DrawerHead>
        <Title headingLevel="h2" size="lg">
          Audit row {id}
        </Title>
        <DrawerActions>
          <DrawerCloseButton onClick={onClose} aria-label="Close the row detail" />
        </DrawerActions>
      </DrawerHead>
      <DrawerPanelBody>
        {q.isPending && <Loading what="the row" />}
        {q.error && <ErrorDetails error={q.error} title="The row could not be read" />}
        {q.data && (
          <>
            <Flex gap={{ default: 'gapSm' }}>
              {isFailedRow(q.data.row) && <Label color="red">failed</Label>}
              <Label color={q.data.hashOk ? 'green' : 'red'}>{q.data.hashOk ? 'hash matches' : 'hash DOES NOT match'}</Label>
              <Label color={q.data.linkOk ? 'green' : 'red'}>{q.data.linkOk ? 'linked to the previous row' : 'link BROKEN'}</Label>
            </Flex>
            <DescriptionList isCompact isHorizontal>
              {(
                [
                  ['Time', formatTime(q.data.row.ts)],
                  ['Action', q.data.row.action],
                  ['Actor', q.data.row.actor],
                  ['Subject', q.data.row.subject],
                  ['Hash', q.data.row.hash],
                  ['Previous hash', q.data.row.prevHash],
                ] as const
              ).map(([k, v]) => (
                <DescriptionListGroup key={k}>
                  <DescriptionListTerm>{k}</DescriptionListTerm>
                  <DescriptionListDescription>
                    <code className="okc-break">{v}</code>
                  </DescriptionListDescription>
                </DescriptionListGroup>
              ))}
            </DescriptionList>
            <Title headingLevel="h3" size="md">
              Details
            </Title>
            <pre className="okc-pre">{JSON.stringify(q.data.row.details, null, 2)}</pre>
          </>
        )}
      </DrawerPanelBody>
    </DrawerPanelContent>
  );
}

export function AuditList({ onOpen }: { onOpen(id: number): void }) {
  const ui = useAuditUi();
  const { filter, key } = useDebouncedFilter(ui, 300);
  const parent = useRef<HTMLDivElement>(null);
  const [total, setTotal] = useState(0);
  const win = useRowWindow({ count: total, rowHeight: ROW_HEIGHT, scrollRef: parent, overscan: 6 });
  const data = useAuditRows(filter, { start: win.first, end: win.last });
  if (data.total !== total) setTotal(data.total);
  const [jumpDay, setJumpDay] = useState('');
  const invoke = useInvoke();
  const { scrollToIndex } = win;
  const jump = useMutation({
    mutationFn: (day: string) => invoke('audit.locate', { ...filter, at: new Date(Date.parse(`${day}T23:59:59.999Z`)).toISOString() }),
    onSuccess: (r) => scrollToIndex(r.offset),
  });
  // A new filter starts at the top.
  useEffect(() => {
    scrollToIndex(0);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- on a new filter only, not when the window's geometry changes
  }, [key]);

  return (
    <>
      <Toolbar aria-label="Audit filters">
        <ToolbarContent>
          <ToolbarItem>
            <TextInput aria-label="Action filter" placeholder="Action (prefix, e.g. mirror.)" value={ui.action} onChange={(_e, x) => ui.set({ action: x })} />
          </ToolbarItem>
          <ToolbarItem>
            <TextInput aria-label="Actor filter" placeholder="Actor contains" value={ui.actor} onChange={(_e, x) => ui.set({ actor: x })} />
          </ToolbarItem>
          <ToolbarItem>
            <TextInput aria-label="Subject filter" placeholder="Subject contains" value={ui.subject} onChange={(_e, x) => ui.set({ subject: x })} />
          </ToolbarItem>
          <ToolbarItem>
            <TextInput type="date" aria-label="From day (UTC)" value={ui.fromDay} onChange={(_e, x) => ui.set({ fromDay: x })} />
          </ToolbarItem>
          <ToolbarItem>
            <TextInput type="date" aria-label="To day (UTC, inclusive)" value={ui.toDay} onChange={(_e, x) => ui.set({ toDay: x })} />
          </ToolbarItem>
          <ToolbarItem>
            <form
              className="okc-inline-form"
              onSubmit={(e) => {
                e.preventDefault();
                if (jumpDay) jump.mutate(jumpDay);
              }}
            >
              <TextInput type="date" aria-label="Jump to date (UTC)" value={jumpDay} onChange={(_e, x) => setJumpDay(x)} />
              <Button type="submit" variant="secondary" isDisabled={!jumpDay}>
                Jump
              </Button>
            </form>
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <Content component="p" aria-live="polite" data-testid="audit-total">
        {data.isPending ? 'Counting rows…' : `${data.total.toLocaleString('en-US')} row${data.total === 1 ? '' : 's'}${key !== '{}' ? ' match the filters' : ''}.`}
      </Content>
      {data.error && <ErrorDetails error={data.error} title="The audit log could not be read" />}
      {jump.error && <ErrorDetails error={jump.error} title="Jump failed" />}
      <div role="table" aria-label="Audit log" aria-rowcount={data.total + 1} className="okc-vtable">
        <div role="rowgroup">
          <div role="row" aria-rowindex={1} className="okc-vrow okc-vhead">
            <span role="columnheader">#</span>
            <span role="columnheader">Time (UTC)</span>
            <span role="columnheader">Action</span>
            <span role="columnheader">Actor</span>
            <span role="columnheader">Subject</span>
            <span role="columnheader">Hash</span>
          </div>
        </div>
        <div ref={parent} className="okc-vscroll" data-testid="audit-scroll" role="rowgroup">
          <div style={{ height: win.height, position: 'relative' }}>
            {win.rows.map((it) => {
              const r = data.rowAt(it.index);
              const failed = r ? isFailedRow(r) : false;
              return (
                <div
                  key={it.index}
                  role="row"
                  aria-rowindex={it.index + 2}
                  className={`okc-vrow${failed ? ' okc-row-failed' : ''}`}
                  style={{ position: 'absolute', top: 0, left: 0, right: 0, height: ROW_HEIGHT, transform: `translateY(${it.top}px)` }}
                  tabIndex={r ? 0 : -1}
                  onClick={() => r && onOpen(r.id)}
                  onKeyDown={(e) => {
                    if (r && (e.key === 'Enter' || e.key === ' ')) {
                      e.preventDefault();
                      onOpen(r.id);
                    }
                  }}
                >
                  {r ? (
                    <>
                      <span role="cell">{r.id}</span>
                      <span role="cell">{formatTime(r.ts)}</span>
                      <span role="cell">
                        {failed && <FailedBadge />}{' '}
                        {r.action}
                      </span>
                      <span role="cell" className="okc-ellipsis">
                        {r.actor}
                      </span>
                      <span role="cell" className="okc-ellipsis">
                        {r.subject}
                      </span>
                      <span role="cell">
                        <code>{shortDigest(r.hash)}</code>
                      </span>
                    </>
                  ) : (
                    <span role="cell">Loading row {it.index + 1}…</span>
                  )}
                </div>
              );
            })}
          </div>
        </div>
      </div>
    </>
  );
}

function ChainAndExport() {
  const invoke = useInvoke();
  const { verified, setVerified } = useAuditUi();
  const ui = useAuditUi();
  const verify = useMutation({ mutationFn: () => invoke('audit.verify', {}), onSuccess: setVerified });
  const f = filterInput(ui);
  return (
    <Flex direction={{ default: 'column' }} gap={{ default: 'gapSm' }}>
      <Flex gap={{ default: 'gapMd' }} alignItems={{ default: 'alignItemsCenter' }}>
        <Button variant="secondary" onClick={() => verify.mutate()} isDisabled={verify.isPending}>
          {verify.isPending ? 'Verifying the chain…' : 'Verify chain'}
        </Button>
        {verified && (
          <Alert isInline isPlain variant={verified.ok ? 'success' : 'danger'} title={verified.message} aria-label="Chain verification result" />
        )}
        {verify.error && <ErrorDetails error={verify.error} title="Chain verification failed" />}
      </Flex>
      <AuditExport from={f.from} to={f.to} />
    </Flex>
  );
}

export function AuditPage() {
  const [open, setOpen] = useState<number | null>(null);
  return (
    <Drawer isExpanded={open !== null} isInline position="end">
      <DrawerContent panelContent={open !== null ? <RowDetail id={open} onClose={() => setOpen(null)} /> : undefined}>
        <DrawerContentBody>
          <ChainAndExport />
          <AuditList onOpen={setOpen} />
        </DrawerContentBody>
      </DrawerContent>
    </Drawer>
  );
}
