/** A uPlot time chart with its text alternative: "View as table" shows the same points as a table. */
import { useEffect, useRef, useState } from 'react';
import { Button, Content } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  /** CSS colour (a PatternFly chart token value). */
  stroke: string;
  values: (number | null)[];
  format: (v: number | null) => string;
  /** Points only (events such as imports), no line. */
  points?: boolean;
}

export function TimeChart({ title, times, series, summary }: { title: string; times: number[]; series: ChartSeries[]; summary: string }) {
  const el = useRef<HTMLDivElement>(null);
  const [asTable, setAsTable] = useState(false);
  useEffect(() => {
    if (asTable || !el.current || times.length === 0) return;
    let plot: uPlot | null = null;
    try {
      const width = Math.max(280, el.current.clientWidth || 480);
      plot = new uPlot(
        {
          width,
          height: 180,
          series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, points: { show: !!s.points || times.length < 3, size: 6 }, ...(s.points ? { paths: () => null } : {}), value: (_u: uPlot, v: number | null) => s.format(v) }))],
          axes: [{ stroke: 'currentColor' }, { stroke: 'currentColor', size: 70, values: (_u: uPlot, vals: number[]) => vals.map((v) => series[0].format(v)) }],
          legend: { show: true },
        },
        [times.map((t) => t / 1000), ...series.map((s) => s.values)] as uPlot.AlignedData,
        el.current,
      );
    } catch {
      /* no canvas (tests): the table view still shows the data */
    }
    return () => plot?.destroy();
  }, [asTable, times, series]);
  return (
    <figure className="okc-chart" aria-label={title}>
      <figcaption>
        <Content component="p">{summary}</Content>
        <Button variant="link" isInline onClick={() => setAsTable((t) => !t)} aria-pressed={asTable}>
          {asTable ? 'View as chart' : 'View as table'}
        </Button>
      </figcaption>
      {asTable ? (
        <Table aria-label={`${title} (table)`} variant="compact">
          <Thead>
            <Tr>
              <Th>Time (UTC)</Th>
              {series.map((s) => (
                <Th key={s.label}>{s.label}</Th>
              ))}
            </Tr>
          </Thead>
          <Tbody>
            {times.map((t, i) => (
              <Tr key={`${t}-${i}`}>
                <Td>{new Date(t).toISOString().replace('T', ' ').slice(0, 19)}</Td>
                {series.map((s) => (
                  <Td key={s.label}>{s.format(s.values[i])}</Td>
                ))}
              </Tr>
            ))}
          </Tbody>
        </Table>
      ) : (
        <div ref={el} role="img" aria-label={`${title}: ${summary}`} />
      )}
    </figure>
  );
}
