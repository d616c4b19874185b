/** What the CLI prints for people: run counts, live progress, the best run of each optimizer. */
import { countsByOptimizer, type Plan } from './grid.js';
import type { LiveRun } from './executor.js';
import { layout } from './sink.js';
import type { SweepSummary } from './sweep.js';

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function dryRun(plan: Plan): string {
  const rows = countsByOptimizer(plan).map(({ optimizer, runs }) => [optimizer, String(runs)]);
  rows.push(['total', String(plan.total)]);
  return `${table([['optimizer', 'runs'], ...rows])}\n`;
}

const fmt = (x: number): string => (Number.isFinite(x) ? x.toPrecision(6) : String(x));

export function bestRuns(plan: Plan, summary: SweepSummary): string {
  const rows = [
    ['optimizer', 'runs', 'ok', 'diverged', 'error', `best ${layout(plan).rank.column}`, 'run_id', 'settings'],
  ];
  for (const s of summary.optimizers) {
    const problemSettings = (plan.problem.axes ?? []).map(
      (a, k) => [a.name, JSON.stringify(s.best?.spec.problemValues[k])] as const,
    );
    const settings = s.best
      ? [...Object.entries(s.best.spec.axes), ...problemSettings].map(([k, v]) => `${k}=${v}`).join(' ') +
        (plan.seeds.length > 1 ? ` seed=${s.best.spec.seed}` : '')
      : '';
    rows.push([
      s.optimizer,
      String(s.runs),
      String(s.ok),
      String(s.diverged),
      String(s.error),
      s.best ? fmt(s.best.value) : '-',
      s.best ? String(s.best.spec.id) : '-',
      settings,
    ]);
  }
  return `${table(rows)}\n`;
}

export function progressLine(done: number, total: number, seconds: number, live: LiveRun[]): string {
  const rate = seconds > 0 ? Math.round(done / seconds) : 0;
  const pct = total > 0 ? ((100 * done) / total).toFixed(1) : '100.0';
  const now = live
    .slice(0, 2)
    .map((r) => `run ${r.runId} step ${r.step} loss ${fmt(r.loss)}`)
    .join(' | ');
  return `${done}/${total} runs (${pct}%) ${rate}/s ${now}`;
}
