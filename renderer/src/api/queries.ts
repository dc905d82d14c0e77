/** react-query hooks shared by several features. Keys start with a DataScope so data.changed invalidates them. */
import { useQuery } from '@tanstack/react-query';
import { useInvoke } from './ApiProvider';

export function useAppInfo() {
  const invoke = useInvoke();
  return useQuery({ queryKey: ['workspace', 'app.info'], queryFn: () => invoke('app.info', {}) });
}

export function useWorkspaceStatus() {
  const invoke = useInvoke();
  return useQuery({ queryKey: ['workspace', 'status'], queryFn: () => invoke('workspace.status', {}) });
}

export function useDemoKit() {
  const invoke = useInvoke();
  return useQuery({ queryKey: ['settings', 'demoKit'], queryFn: () => invoke('demoKit.info', {}), staleTime: Infinity });
}

export function useChecklists() {
  const invoke = useInvoke();
  return useQuery({ queryKey: ['checklists', 'list'], queryFn: () => invoke('checklists.list', {}) });
}

export function useChecklistRuns() {
  const invoke = useInvoke();
  return useQuery({ queryKey: ['checklists', 'runs'], queryFn: () => invoke('checklists.status', {}) });
}
