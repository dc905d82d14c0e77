/**
 * The API object (window.consoleApi in the app, the Playwright bridge in e2e)
 * is injected here once; components reach it only through these hooks.
 */
import { createContext, useContext, useEffect, type ReactNode } from 'react';
import { QueryClient, QueryClientProvider, useQueryClient } from '@tanstack/react-query';
import type { Channel, ChannelInput, ChannelOutput, ConsoleApi } from '../../../shared/contract';
import type { OpsErrorShape } from '../../../shared/errors';
import { useJobStore } from './jobStore';

/** A refused call, carrying the one error shape (code, message, action, path). */
export class ApiError extends Error {
  readonly shape: OpsErrorShape;
  constructor(shape: OpsErrorShape) {
    super(shape.message);
    this.name = 'ApiError';
    this.shape = shape;
  }
}

export function toShape(e: unknown): OpsErrorShape {
  if (e instanceof ApiError) return e.shape;
  return { code: 'ERR_INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

const ApiContext = createContext<ConsoleApi | null>(null);

export function useApi(): ConsoleApi {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useApi outside <ApiProvider>');
  return api;
}

/** Calls a channel and unwraps the envelope: resolves with the value, rejects with ApiError. */
export async function call<C extends Channel>(api: ConsoleApi, channel: C, input?: ChannelInput<C>): Promise<ChannelOutput<C>> {
  let env;
  try {
    env = await api.invoke(channel, input);
  } catch (e) {
    throw new ApiError({ code: 'ERR_INTERNAL', message: `The console engine did not answer (${e instanceof Error ? e.message : String(e)}).` });
  }
  if (!env.ok) throw new ApiError(env.error);
  return env.value;
}

/** A bound `call` for components: `const invoke = useInvoke(); await invoke('app.info')`. */
export function useInvoke() {
  const api = useApi();
  return <C extends Channel>(channel: C, input?: ChannelInput<C>) => call(api, channel, input);
}

/** Subscribes once to the engine's topics: data changes invalidate queries, job events feed the job store. */
function EventBridge() {
  const api = useApi();
  const qc = useQueryClient();
  useEffect(() => {
    const offs = [
      api.subscribe('data.changed', ({ scopes }) => {
        for (const scope of scopes) void qc.invalidateQueries({ queryKey: [scope] });
      }),
      api.subscribe('job.progress', (p) => useJobStore.getState().progress(p)),
      api.subscribe('job.done', (info) => useJobStore.getState().done(info)),
    ];
    return () => offs.forEach((off) => off());
  }, [api, qc]);
  return null;
}

export function ApiProvider({ api, client, children }: { api: ConsoleApi; client?: QueryClient; children: ReactNode }) {
  const qc = client ?? defaultClient;
  return (
    <ApiContext.Provider value={api}>
      <QueryClientProvider client={qc}>
        <EventBridge />
        {children}
      </QueryClientProvider>
    </ApiContext.Provider>
  );
}

const defaultClient = new QueryClient({
  defaultOptions: {
    // Local engine: no retries that would hide a refusal, no refetch storms.
    queries: { retry: false, refetchOnWindowFocus: false, staleTime: 5_000 },
    mutations: { retry: false },
  },
});
