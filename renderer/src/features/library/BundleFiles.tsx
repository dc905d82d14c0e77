/**
 * A library bundle's files (issue 11: the 100,000-file manifest in the library
 * detail): path, size and digest of every file in the bundle's signed list,
 * as the engine verified it in the library copy. A window of fixed-height rows
 * (useRowWindow) over pages fetched through IPC with react-query; a debounced
 * path filter and the total. Only the pages in view (and a few recent ones)
 * are held in the renderer.
 */
import { useEffect, useRef, useState } from 'react';
import { keepPreviousData, useQueries, useQuery } from '@tanstack/react-query';
import { Button, Card, CardBody, CardHeader, CardTitle, Content, TextInput, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import type { LibraryEntry, LibraryFilesPageView, LibraryFileView } from '../../../../shared/contract';
import { useInvoke } from '../../api/ApiProvider';
import { ErrorDetails } from '../../components/ErrorDetails';
import { Loading } from '../../components/Loading';
import { formatBytes, formatTime, shortDigest } from '../../components/format';
import { useDebounced } from '../../components/useDebounced';
import { useRowWindow } from '../../components/useRowWindow';

export const FILES_PAGE_SIZE = 200;
const ROW_HEIGHT = 32;

/** The rows a window shows: page 0 gives the totals; the pages covering the window are fetched as it moves. */
export function useBundleFiles(sha256: string, filter: string, visible: { start: number; end: number }) {
  const invoke = useInvoke();
  const fetchPage = (p: number) => invoke('library.files', { sha256, offset: p * FILES_PAGE_SIZE, limit: FILES_PAGE_SIZE, ...(filter ? { filter } : {}) });
  const first = useQuery({
    queryKey: ['library', 'files', sha256, filter, 0],
    queryFn: () => fetchPage(0),
    placeholderData: keepPreviousData,
    structuralSharing: false,
    staleTime: Infinity,
  });
  const total = first.data?.total ?? 0;
  const pages: number[] = [];
  for (let p = Math.floor(visible.start / FILES_PAGE_SIZE); p <= Math.floor(Math.max(visible.start, visible.end) / FILES_PAGE_SIZE); p++) if (p > 0 && p * FILES_PAGE_SIZE < total) pages.push(p);
  const more = useQueries({
    queries: pages.map((p) => ({
      queryKey: ['library', 'files', sha256, filter, p],
      queryFn: () => fetchPage(p),
      staleTime: Infinity,
      // Pages scrolled past leave the cache soon: the renderer never gathers the whole list.
      gcTime: 15_000,
      structuralSharing: false,
    })),
  });
  const byPage = new Map<number, LibraryFilesPageView>();
  if (first.data) byPage.set(0, first.data);
  pages.forEach((p, i) => {
    const d = more[i]?.data;
    if (d) byPage.set(p, d);
  });
  const rowAt = (index: number): LibraryFileView | undefined => byPage.get(Math.floor(index / FILES_PAGE_SIZE))?.rows[index % FILES_PAGE_SIZE];
  return { head: first.data, total, rowAt, isPending: first.isPending, isPlaceholder: first.isPlaceholderData, error: first.error };
}

export function BundleFiles({ entry, onClose }: { entry: LibraryEntry; onClose(): void }) {
  const name = entry.file.split('/').pop() ?? entry.file;
  const [text, setText] = useState('');
  const filter = useDebounced(text.trim(), 300);
  const parent = useRef<HTMLDivElement>(null);
  const [total, setTotal] = useState(0);
  const win = useRowWindow({ count: total, rowHeight: ROW_HEIGHT, scrollRef: parent, overscan: 6, initialViewport: 420 });
  const data = useBundleFiles(entry.sha256, filter, { start: win.first, end: win.last });
  if (data.total !== total) setTotal(data.total);
  // A new filter starts at the top.
  const { scrollToIndex } = win;
  useEffect(() => {
    scrollToIndex(0);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- on a new filter only, not when the window's geometry changes
  }, [filter]);
  const head = data.head;
  return (
    <Card component="section" aria-label={`Files of ${name}`} id="bundle-files">
      <CardHeader actions={{ actions: <Button variant="secondary" onClick={onClose}>Close the file list</Button>, hasNoOffset: false }}>
        <CardTitle component="h2">Files of {name}</CardTitle>
      </CardHeader>
      <CardBody>
        {data.isPending && <Loading what="the file list (the library copy is verified first; a large bundle takes a while)" />}
        {data.error && <ErrorDetails error={data.error} title="The file list could not be read" />}
        {head && (
          <Content component="p" className="okc-muted">
            Read from the library copy, verified {formatTime(head.verified.at)}: export <code>{head.verified.exportId}</code>, generation {head.verified.generation}, {head.count.toLocaleString('en-US')} files,{' '}
            {formatBytes(head.totalBytes)}
            {head.verified.signedBy.length > 0 && <>, signed by {head.verified.signedBy.map(shortDigest).join(', ')}</>}.
          </Content>
        )}
        <Toolbar aria-label="File filters">
          <ToolbarContent>
            <ToolbarItem>
              <TextInput aria-label="Filter files by path" placeholder="Path contains (any case)" value={text} onChange={(_e, x) => setText(x)} />
            </ToolbarItem>
          </ToolbarContent>
        </Toolbar>
        <Content component="p" aria-live="polite" data-testid="files-total">
          {!head ? '' : filter ? `${data.total.toLocaleString('en-US')} of ${head.count.toLocaleString('en-US')} files match "${filter}".` : `${head.count.toLocaleString('en-US')} file${head.count === 1 ? '' : 's'}.`}
        </Content>
        <div role="table" aria-label="Files in the bundle" aria-rowcount={data.total + 1} className="okc-vtable">
          <div role="rowgroup">
            <div role="row" aria-rowindex={1} className="okc-vrow okc-vhead okc-files-row">
              <span role="columnheader">Path</span>
              <span role="columnheader">Size</span>
              <span role="columnheader">SHA-256</span>
            </div>
          </div>
          {/* Focusable, so the list scrolls with the keyboard (arrows, Page Up/Down). */}
          <div ref={parent} className="okc-vscroll okc-files-scroll" data-testid="files-scroll" role="rowgroup" tabIndex={0}>
            <div style={{ height: win.height, position: 'relative' }}>
              {win.rows.map((it) => {
                const r = data.isPlaceholder ? undefined : data.rowAt(it.index);
                return (
                  <div
                    key={it.index}
                    role="row"
                    aria-rowindex={it.index + 2}
                    className="okc-vrow okc-files-row"
                    style={{ position: 'absolute', top: 0, left: 0, right: 0, height: ROW_HEIGHT, transform: `translateY(${it.top}px)` }}
                  >
                    {r ? (
                      <>
                        <span role="cell" className="okc-ellipsis" title={r.path}>
                          {r.path}
                        </span>
                        <span role="cell">{formatBytes(r.size)}</span>
                        <span role="cell">
                          <code title={r.sha256}>{shortDigest(r.sha256)}</code>
                        </span>
                      </>
                    ) : (
                      <span role="cell">Loading file {(it.index + 1).toLocaleString('en-US')}…</span>
                    )}
                  </div>
                );
              })}
            </div>
          </div>
        </div>
      </CardBody>
    </Card>
  );
}
