// Usage: memory and CPU over time against the limits, per attempt and component, from
// GET /api/v1/runs/{id}/usage (polled while the run is active); the attempts' peaks below.
import { useMemo } from 'preact/hooks';
import { enc } from '../api/client';
import { usePoll } from '../api/hooks';
import type { Run, Usage, UsageSeries } from '../api/types';
import { isActiveRun } from '../api/types';
import { ErrorNotice, Loading, Notice, StatusChip } from '../components/common';
import { UsageChart } from '../components/UsageChart';
import { formatBytes, formatCpuMillis, formatDuration, parseBytes } from '../lib/format';
import { navigate, runHref } from '../lib/route';
import { attemptDuration, memoryUse } from '../lib/runinfo';
import { chartData } from '../lib/timeline';
import { useSettings } from '../settings';

export function UsageTab({ run, params }: { run: Run; params: URLSearchParams }) {
  const active = isActiveRun(run.status);
  const usage = usePoll<Usage>(`/runs/${enc(run.id)}/usage`, active ? 2000 : 0);
  const { theme } = useSettings();
  const series = usage.data?.series ?? [];
  const attempts = [...new Set(series.map((s) => s.attempt))].sort((a, b) => a - b);
  const asked = params.get('attempt');
  const chosen = asked === 'all' ? 'all' : asked && attempts.includes(Number(asked)) ? Number(asked) : 'all';
  const shown = chosen === 'all' ? series : series.filter((s) => s.attempt === chosen);
  const unsupported = usage.error?.status === 404 && usage.error.message.startsWith('no route');

  return (
    <section class="usage" aria-label="Usage">
      {usage.loading && !usage.data ? <Loading what="usage" /> : null}
      {unsupported ? (
        <Notice>This server does not record usage samples; the peaks below come from each attempt's end.</Notice>
      ) : usage.error ? (
        <ErrorNotice error={usage.error} what="Could not load usage" />
      ) : null}
      {attempts.length > 1 ? (
        <label class="inline">
          <span>Attempt</span>
          <select
            value={String(chosen)}
            onChange={(e) => navigate(runHref(run.id, 'usage', { attempt: e.currentTarget.value }), true)}
            data-testid="usage-attempt"
          >
            <option value="all">All attempts</option>
            {attempts.map((n) => (
              <option key={n} value={n}>
                Attempt {n}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      {usage.data && series.length === 0 ? (
        <p class="muted">No samples yet{active ? '; they appear while the run works' : ' (the attempts ended before the first sample)'}.</p>
      ) : null}
      {shown.map((s) => (
        <SeriesCharts key={`${s.attempt_id}/${s.component}`} s={s} run={run} theme={theme} />
      ))}
      <Peaks run={run} />
    </section>
  );
}

function SeriesCharts({ s, run, theme }: { s: UsageSeries; run: Run; theme: 'light' | 'dark' }) {
  const d = useMemo(() => chartData(s), [s]);
  const a = run.attempts.find((x) => x.number === s.attempt);
  return (
    <div class="series" data-testid="usage-series">
      <h3>
        Attempt {s.attempt} · {s.component} {a ? <StatusChip status={a.status} small /> : null}
      </h3>
      {d.x.length === 0 ? <p class="muted">No samples for this component.</p> : null}
      <div class="chart-pair">
        <UsageChart
          kind="memory"
          title="Memory"
          x={d.x}
          y={d.memory}
          limit={d.memoryLimit}
          peak={d.peakMemory}
          format={formatBytes}
          theme={theme}
          attempt={s.attempt}
          component={s.component}
        />
        <UsageChart
          kind="cpu"
          title="CPU"
          x={d.x}
          y={d.cpu}
          limit={d.cpuLimit}
          peak={d.peakCpu}
          format={formatCpuMillis}
          theme={theme}
          attempt={s.attempt}
          component={s.component}
        />
      </div>
    </div>
  );
}

function Peaks({ run }: { run: Run }) {
  if (run.attempts.length === 0) return null;
  const now = Date.now();
  return (
    <div class="table-wrap">
      <table class="compact peaks" data-testid="usage-peaks">
        <caption>Peaks per attempt</caption>
        <thead>
          <tr>
            <th scope="col">Attempt</th>
            <th scope="col">Status</th>
            <th scope="col" class="num">
              Peak memory
            </th>
            <th scope="col" class="num">
              Limit
            </th>
            <th scope="col" class="num">
              Of limit
            </th>
            <th scope="col" class="num">
              CPU time
            </th>
            <th scope="col" class="num">
              Ran
            </th>
          </tr>
        </thead>
        <tbody>
          {run.attempts.map((a) => {
            const use = memoryUse(a);
            return (
              <tr key={a.id}>
                <td>#{a.number}</td>
                <td>
                  <StatusChip status={a.status} small />
                </td>
                <td class="num">{a.peak_memory ? formatBytes(a.peak_memory) : '—'}</td>
                <td class="num">{formatBytes(parseBytes(a.resources?.memory ?? null))}</td>
                <td class={`num${use !== null && use >= 0.9 ? ' warn-text' : ''}`}>{use === null ? '—' : `${Math.round(use * 100)}%`}</td>
                <td class="num">{a.cpu_seconds ? `${a.cpu_seconds.toFixed(2)} s` : '—'}</td>
                <td class="num">{formatDuration(attemptDuration(a, now))}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
