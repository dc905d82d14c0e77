/** Paging the audit log over IPC: fixed-size pages cached by react-query, fetched as the virtual list reaches them. */
import { useMemo } from 'react';
import { useDebounced } from '../../components/useDebounced';
import { keepPreviousData, useQueries, useQuery } from '@tanstack/react-query';
import type { AuditOffsetPageView, AuditRowView } from '../../../../shared/contract';
import { useInvoke } from '../../api/ApiProvider';
import type { AuditFilters } from './store';

export const PAGE_SIZE = 200;

/** The IPC filter of the UI's filters (days are UTC; "to" is the day after the last day). */
export function filterInput(f: AuditFilters): { action?: string; actor?: string; subject?: string; from?: string; to?: string } {
  const to = f.toDay ? new Date(Date.parse(`${f.toDay}T00:00:00Z`) + 86_400_000).toISOString() : undefined;
  return {
    ...(f.action.trim() ? { action: f.action.trim() } : {}),
    ...(f.actor.trim() ? { actor: f.actor.trim() } : {}),
    ...(f.subject.trim() ? { subject: f.subject.trim() } : {}),
    ...(f.fromDay ? { from: `${f.fromDay}T00:00:00.000Z` } : {}),
    ...(to ? { to } : {}),
  };
}

export { useDebounced };

export type AuditFilterInput = ReturnType<typeof filterInput>;

/** The UI's filters, debounced: one stable object per distinct filter (react-query keys and effects can depend on it). */
export function useDebouncedFilter(f: AuditFilters, ms: number): { filter: AuditFilterInput; key: string } {
  const key = useDebounced(JSON.stringify(filterInput(f)), ms);
  const filter = useMemo(() => JSON.parse(key) as AuditFilterInput, [key]);
  return { filter, key };
}

/**
 * The rows a virtual list shows: page 0 gives the total; the pages covering
 * the visible index range are fetched (and cached) as the list scrolls.
 */
export function useAuditRows(filter: ReturnType<typeof filterInput>, visible: { start: number; end: number }) {
  const invoke = useInvoke();
  const key = JSON.stringify(filter);
  const first = useQuery({
    queryKey: ['audit', 'page', key, 0],
    queryFn: () => invoke('audit.page', { ...filter, offset: 0, limit: PAGE_SIZE }),
    placeholderData: keepPreviousData,
    structuralSharing: false,
  });
  const total = first.data?.total ?? 0;
  const pages: number[] = [];
  for (let p = Math.floor(visible.start / PAGE_SIZE); p <= Math.floor(Math.max(visible.start, visible.end) / PAGE_SIZE); p++) if (p > 0 && p * PAGE_SIZE < total) pages.push(p);
  const more = useQueries({
    queries: pages.map((p) => ({
      queryKey: ['audit', 'page', key, p],
      queryFn: () => invoke('audit.page', { ...filter, offset: p * PAGE_SIZE, limit: PAGE_SIZE }),
      staleTime: 30_000,
      // Pages scrolled past leave the cache soon: a long scroll never gathers the whole log in the renderer.
      gcTime: 15_000,
      structuralSharing: false,
    })),
  });
  const byPage = new Map<number, AuditOffsetPageView>();
  if (first.data) byPage.set(0, first.data);
  pages.forEach((p, i) => {
    const d = more[i]?.data;
    if (d) byPage.set(p, d);
  });
  const rowAt = (index: number): AuditRowView | undefined => byPage.get(Math.floor(index / PAGE_SIZE))?.rows[index % PAGE_SIZE];
  return { total, rowAt, isPending: first.isPending, error: first.error, isFetching: first.isFetching || more.some((m) => m.isFetching) };
}
