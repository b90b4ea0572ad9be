// One usage chart (uPlot): a value over time with its limit as a dashed horizontal line.
// The container's data attributes (points, limit, peak, whether the limit line was drawn) let
// tests and tools check what is shown without reading pixels.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { axisMax, binaryTicks } from '../lib/timeline';
import type { Theme } from '../lib/theme';

export interface UsageChartProps {
  kind: 'memory' | 'cpu';
  title: string;
  x: number[];
  y: (number | null)[];
  /** 0: no limit. */
  limit: number;
  peak: number;
  format: (v: number) => string;
  theme: Theme;
  attempt: number;
  component: string;
}

const HEIGHT = 200;

/** A palette colour as the canvas needs it: resolved (light-dark(), var()) to rgb(). */
function cssVar(name: string, fallback: string): string {
  const probe = document.createElement('span');
  probe.style.color = `var(${name}, ${fallback})`;
  probe.style.display = 'none';
  document.body.appendChild(probe);
  const v = getComputedStyle(probe).color;
  probe.remove();
  return v || fallback;
}

/** rgb(r, g, b) → rgba(r, g, b, alpha), for the area under the line. */
function withAlpha(color: string, alpha: number): string {
  const m = /^rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(color);
  return m ? `rgba(${m[1]}, ${m[2]}, ${m[3]}, ${alpha})` : color;
}

export function UsageChart(p: UsageChartProps) {
  const wrap = useRef<HTMLDivElement>(null);
  const plot = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const latest = useRef(p);
  latest.current = p;

  useEffect(() => {
    const el = plot.current;
    const box = wrap.current;
    if (!el || !box) return undefined;
    const line = cssVar(p.kind === 'memory' ? '--chart-memory' : '--chart-cpu', '#2563eb');
    const limitColor = cssVar('--chart-limit', '#dc2626');
    const axis = cssVar('--muted', '#6b7280');
    const grid = cssVar('--grid', 'rgba(0,0,0,0.08)');
    const limit = p.limit;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: HEIGHT,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        y: { range: () => [0, axisMax(latest.current.peak, limit)] },
      },
      axes: [
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        {
          stroke: axis,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid },
          size: 70,
          values: (_u, vals) => vals.map((v) => latest.current.format(v)),
          ...(p.kind === 'memory' ? { splits: (u: uPlot) => binaryTicks(u.scales.y?.max ?? 0) } : {}),
        },
      ],
      series: [
        {},
        {
          label: p.title,
          stroke: line,
          width: 2,
          fill: withAlpha(line, 0.12),
          points: { show: (_u, _i, i0, i1) => i1 - i0 < 40, size: 5, fill: line },
          spanGaps: false,
          value: (_u, v) => (v === null ? '—' : latest.current.format(v)),
        },
      ],
      hooks: {
        draw: [
          (u) => {
            if (limit <= 0) {
              box.dataset.limitDrawn = 'false';
              return;
            }
            const y = Math.round(u.valToPos(limit, 'y', true));
            const { left, top, width, height } = u.bbox;
            const inside = y >= top && y <= top + height;
            box.dataset.limitDrawn = String(inside);
            if (!inside) return;
            const ctx = u.ctx;
            const dpr = window.devicePixelRatio || 1;
            ctx.save();
            ctx.strokeStyle = limitColor;
            ctx.lineWidth = 2 * dpr;
            ctx.setLineDash([8 * dpr, 5 * dpr]);
            ctx.beginPath();
            ctx.moveTo(left, y);
            ctx.lineTo(left + width, y);
            ctx.stroke();
            ctx.setLineDash([]);
            ctx.fillStyle = limitColor;
            ctx.font = `${12 * dpr}px system-ui, sans-serif`;
            ctx.textAlign = 'right';
            ctx.fillText(`limit ${latest.current.format(limit)}`, left + width - 6 * dpr, y - 6 * dpr);
            ctx.restore();
          },
        ],
      },
    };
    const u = new uPlot(opts, [p.x, p.y], el);
    chart.current = u;
    const ro = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (Math.abs(w - u.width) > 1) u.setSize({ width: w, height: HEIGHT });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      chart.current = null;
    };
    // The data is applied below without rebuilding; colours and limit rebuild the chart.
  }, [p.theme, p.kind, p.limit]);

  useEffect(() => {
    chart.current?.setData([p.x, p.y]);
  }, [p.x, p.y, p.peak]);

  const pct = p.limit > 0 ? Math.round((p.peak / p.limit) * 100) : null;
  const testid = p.kind === 'memory' ? 'usage-memory' : 'usage-cpu';
  return (
    <figure
      ref={wrap}
      class={`chart chart-${p.kind}`}
      data-testid={testid}
      data-points={p.x.length}
      data-peak={p.peak}
      data-limit={p.limit}
      {...(p.kind === 'memory' ? { 'data-limit-bytes': p.limit } : { 'data-limit-millis': p.limit })}
      data-attempt={p.attempt}
      data-component={p.component}
    >
      <figcaption>
        <span class="chart-title">{p.title}</span>
        <span class="chart-legend">
          <span class={`swatch swatch-${p.kind}`} aria-hidden="true" /> peak {p.format(p.peak)}
          {p.limit > 0 ? (
            <>
              {' '}
              <span class="swatch swatch-limit" aria-hidden="true" /> limit {p.format(p.limit)}
              {pct !== null ? <span class={pct >= 90 ? 'warn-text' : 'muted'}> ({pct}%)</span> : null}
            </>
          ) : (
            <span class="muted"> · no limit</span>
          )}
          <span class="muted"> · {p.x.length} samples</span>
        </span>
      </figcaption>
      <div ref={plot} class="plot" role="img" aria-label={`${p.title}: peak ${p.format(p.peak)}${p.limit > 0 ? ` of a ${p.format(p.limit)} limit` : ''}, ${p.x.length} samples`} />
    </figure>
  );
}
