/**
 * Long tasks in the renderer, measured two ways while a test drives the page:
 * - the Long Tasks API (PerformanceObserver 'longtask'): wall-clock durations
 *   of tasks over 50 ms, as a user would feel them;
 * - Chromium's trace of the renderer's main thread (category 'toplevel'): each
 *   task's wall-clock duration and the thread's own CPU time in it (`tdur`).
 * A long task is what the Long Tasks API reports. On a shared 2-core CI
 * machine a task of 5 ms of work can last 100 ms of wall clock while other
 * processes run; the trace's CPU time of the same task tells the two apart:
 * `overBudget` keeps the long tasks over the budget in both (the renderer's
 * own work), so the check does not depend on the machine's load. (The trace
 * also holds the test's own probing, which the Long Tasks API leaves out.)
 */
import type { Page } from '@playwright/test';

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  tdur?: number;
  args?: { name?: string };
}

export interface RendererTasks {
  /**
   * The long tasks the Long Tasks API reported: wall clock (ms) and the
   * renderer main thread's CPU time in the same task from the trace (null
   * when no traced task matches it).
   */
  longTasks: { wall: number; cpu: number | null }[];
  /** The most CPU time (ms) one task of the renderer's main thread used (tasks of the test's own probing included). */
  maxCpu: number;
}

/**
 * The long tasks that are the renderer's: over `budget` ms of wall clock and
 * over `budget` ms of its own CPU time (or with no traced task to tell).
 */
export function overBudget(r: RendererTasks, budget = 100): RendererTasks['longTasks'] {
  return r.longTasks.filter((t) => t.wall > budget && (t.cpu === null || t.cpu > budget));
}

export async function watchRenderer(page: Page): Promise<{ stop(): Promise<RendererTasks> }> {
  await page.evaluate(() => {
    const w = window as unknown as { __long: { start: number; wall: number }[] };
    w.__long = [];
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) w.__long.push({ start: e.startTime, wall: e.duration });
    }).observe({ type: 'longtask', buffered: false });
  });
  const cdp = await page.context().newCDPSession(page);
  const events: TraceEvent[] = [];
  cdp.on('Tracing.dataCollected', (d) => events.push(...(d.value as unknown as TraceEvent[])));
  await cdp.send('Tracing.start', { categories: process.env.OKC_TRACE_CATS ?? 'toplevel,__metadata,blink.user_timing', transferMode: 'ReportEvents' });
  // The window measured is between two marks: the trace's own start-up and its flush at the end (tasks that serialise the trace) are not the page's.
  const markStart = await page.evaluate(() => performance.mark('okc-watch-start').startTime);
  return {
    async stop() {
      // Let the last frame finish before the trace ends.
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      const longTasks = await page.evaluate(() => {
        performance.mark('okc-watch-end');
        return (window as unknown as { __long: { start: number; wall: number }[] }).__long;
      });
      const done = new Promise((r) => cdp.once('Tracing.tracingComplete', r));
      await cdp.send('Tracing.end');
      await done;
      await cdp.detach();
      if (process.env.OKC_TRACE_OUT) (await import('node:fs')).writeFileSync(process.env.OKC_TRACE_OUT, JSON.stringify({ traceEvents: events }));
      const mains = new Set(events.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}/${e.tid}`));
      if (mains.size === 0) throw new Error('the trace names no renderer main thread (CrRendererMain)');
      const mark = (name: string) => events.find((e) => e.name === name && mains.has(`${e.pid}/${e.tid}`))?.ts;
      const from = mark('okc-watch-start');
      const to = mark('okc-watch-end');
      if (from === undefined || to === undefined) throw new Error('the trace lacks the okc-watch-start/okc-watch-end marks');
      const top = events.filter((e) => e.ph === 'X' && (e.name === 'ThreadControllerImpl::RunTask' || e.name === 'RunTask') && mains.has(`${e.pid}/${e.tid}`) && e.ts + (e.dur ?? 0) >= from && e.ts <= to);
      if (top.length === 0) throw new Error('the trace holds no task of the renderer main thread');
      const ms = (us: number | undefined) => Math.round((us ?? 0) / 100) / 10;
      // A long task's place in the trace: the start mark is at `from` (µs) in the trace and at `markStart` (ms) in the page.
      const matched = longTasks.map((l) => {
        const a = from + (l.start - markStart) * 1000;
        const b = a + l.wall * 1000;
        let best: TraceEvent | null = null;
        let overlap = 0;
        for (const e of top) {
          const o = Math.min(b, e.ts + (e.dur ?? 0)) - Math.max(a, e.ts);
          if (o > overlap) [best, overlap] = [e, o];
        }
        return { wall: Math.round(l.wall), cpu: best ? ms(best.tdur) : null };
      });
      return { longTasks: matched, maxCpu: Math.max(...top.map((e) => ms(e.tdur))) };
    },
  };
}
