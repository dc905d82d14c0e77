// @vitest-environment jsdom
import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import { QueryClient, useQuery } from '@tanstack/react-query';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConsoleApi, Envelope, Topic, Topics } from '../../../shared/contract';
import { ApiError, ApiProvider, call, useInvoke } from './ApiProvider';
import { useJobStore } from './jobStore';

/** An in-memory stand-in for window.consoleApi: counts calls, lets the test push topic events. */
function memoryApi(answers: Record<string, Envelope<unknown>>) {
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  const calls: string[] = [];
  const api = {
    async invoke(channel: string) {
      calls.push(channel);
      return answers[channel] ?? { ok: false, error: { code: 'ERR_INTERNAL', message: 'unexpected' } };
    },
    subscribe(topic: string, l: (p: unknown) => void) {
      if (!listeners.has(topic)) listeners.set(topic, new Set());
      listeners.get(topic)!.add(l);
      return () => void listeners.get(topic)!.delete(l);
    },
  } as unknown as ConsoleApi;
  const push = <T extends Topic>(topic: T, payload: Topics[T]) => listeners.get(topic)?.forEach((l) => l(payload));
  return { api, calls, push, listeners };
}

afterEach(() => cleanup());

describe('call', () => {
  it('unwraps a value and turns a refusal into ApiError with the error shape', async () => {
    const { api } = memoryApi({
      'settings.get': { ok: true, value: { keepGenerations: 2 } },
      'library.list': { ok: false, error: { code: 'ERR_DB_CORRUPT', message: 'broken', action: 'restore it' } },
    });
    await expect(call(api, 'settings.get', {})).resolves.toEqual({ keepGenerations: 2 });
    const err = await call(api, 'library.list', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).shape).toEqual({ code: 'ERR_DB_CORRUPT', message: 'broken', action: 'restore it' });
  });
});

function Library() {
  const invoke = useInvoke();
  const q = useQuery({ queryKey: ['library', 'list'], queryFn: () => invoke('library.list', {}) });
  return <p>entries: {q.data ? q.data.length : '…'}</p>;
}

describe('ApiProvider events', () => {
  it('data.changed invalidates exactly the named scopes; job events feed the job store', async () => {
    const m = memoryApi({ 'library.list': { ok: true, value: [] } });
    const client = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
    render(
      <ApiProvider api={m.api} client={client}>
        <Library />
      </ApiProvider>,
    );
    await screen.findByText('entries: 0');
    expect(m.calls.filter((c) => c === 'library.list')).toHaveLength(1);

    act(() => m.push('data.changed', { scopes: ['keys'] }));
    expect(m.calls.filter((c) => c === 'library.list')).toHaveLength(1);

    act(() => m.push('data.changed', { scopes: ['library'] }));
    await waitFor(() => expect(m.calls.filter((c) => c === 'library.list')).toHaveLength(2));

    act(() => m.push('job.progress', { jobId: 'j1', phase: 'read', bytesDone: 5, bytesTotal: 10 }));
    expect(useJobStore.getState().progressById.j1?.bytesDone).toBe(5);
  });

  it('unsubscribes when unmounted', async () => {
    const m = memoryApi({ 'library.list': { ok: true, value: [] } });
    const view = render(
      <ApiProvider api={m.api} client={new QueryClient()}>
        <Library />
      </ApiProvider>,
    );
    await screen.findByText('entries: 0');
    expect(m.listeners.get('data.changed')?.size).toBe(1);
    view.unmount();
    expect(m.listeners.get('data.changed')?.size).toBe(0);
  });
});
