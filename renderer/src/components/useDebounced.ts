import { useEffect, useState } from 'react';

/**
 * A value that follows `value` once it has not changed for `ms`. Compared by
 * value (Object.is), so pass a primitive: an object built during render is new
 * every render and would restart the timer (and re-render) forever.
 */
export function useDebounced<T extends string | number | boolean | null | undefined>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    if (Object.is(v, value)) return;
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [v, value, ms]);
  return v;
}
