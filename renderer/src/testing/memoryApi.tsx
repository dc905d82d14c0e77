/** Test support: an in-memory ConsoleApi answering channels with functions, and a provider around it. */
import type { ReactNode } from 'react';
import { QueryClient } from '@tanstack/react-query';
import type { ConsoleApi, Topic, Topics } from '../../../shared/contract';
import { ApiProvider } from '../api/ApiProvider';

export type Answer = (input: unknown) => unknown;

export function memoryApi(answers: Record<string, Answer>) {
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  const calls: { channel: string; input: unknown }[] = [];
  const api = {
    async invoke(channel: string, input: unknown) {
      calls.push({ channel, input });
      const a = answers[channel];
      if (!a) return { ok: false, error: { code: 'ERR_INTERNAL', message: `unexpected ${channel}` } };
      try {
        return { ok: true, value: await a(input) };
      } catch (e) {
        const shape = (e as { shape?: unknown }).shape ?? { code: 'ERR_INTERNAL', message: String(e) };
        return { ok: false, error: shape };
      }
    },
    subscribe(topic: string, l: (p: unknown) => void) {
      if (!listeners.has(topic)) listeners.set(topic, new Set());
      listeners.get(topic)!.add(l);
      return () => void listeners.get(topic)!.delete(l);
    },
  } as unknown as ConsoleApi;
  const push = <T extends Topic>(topic: T, payload: Topics[T]) => listeners.get(topic)?.forEach((l) => l(payload));
  const wrapper = ({ children }: { children: ReactNode }) => (
    <ApiProvider api={api} client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      {children}
    </ApiProvider>
  );
  return { api, calls, push, wrapper };
}

/** A refusal the memory API turns into an error envelope. */
export function refusal(code: string, message: string, action?: string): Error {
  return Object.assign(new Error(message), { shape: { code, message, ...(action ? { action } : {}) } });
}
