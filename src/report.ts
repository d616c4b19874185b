/** What the CLI prints for people: run counts, live progress, the best run of each
 * optimizer (tallied by `Tally`, a consumer of the record stream). */
import type { Summary, SummaryRow } from './aggregate.js';
import { columnsOf, rankMetric } from './csv.js';
import { countsByOptimizer, specAt, type Plan, type RunSpec } from './grid.js';
import type { OptimizerName } from './optimizers/index.js';
import type { LiveRun } from './protocol.js';
import { STATUS_CODE, scoreAt, type ResultBatch } from './results.js';
import type { Consumer } from './sweep.js';
import { plannedUpdates } from './early.js';

export interface OptimizerSummary {
  optimizer: OptimizerName;
  runs: number;
  ok: number;
  diverged: number;
  error: number;
  /** Stopped early (early stopping); never ranked. */
  pruned: number;
  /** The ok run best in the ranking column (`Columns.rank`: the lowest final loss,
   * unless the problem ranks by another column), with its value there. */
  best?: { spec: RunSpec; value: number };
}

/** Counts each optimizer's runs by status and keeps its best ok run. */
export class Tally implements Consumer {
  private readonly metric: number;
  /** Ranked by `sign·score`, lowest first: sign −1 turns "higher is better" around. */
  private readonly sign: number;
  /** The ranking column's name. */
  private readonly column: string;
  private readonly byName = new Map<OptimizerName, OptimizerSummary & { bestId: number; bestScore: number }>();

  constructor(private readonly plan: Plan) {
    const columns = columnsOf(plan);
    this.metric = rankMetric(columns);
    this.sign = columns.rank.higher ? -1 : 1;
    this.column = columns.rank.column;
    for (const o of plan.optimizers)
      this.byName.set(o.name, {
        optimizer: o.name,
        runs: 0,
        ok: 0,
        diverged: 0,
        error: 0,
        pruned: 0,
        bestId: -1,
        bestScore: Infinity,
      });
  }

  accept(r: ResultBatch): void {
    // Runs of one optimizer are contiguous: walk the optimizers the batch spans (a
    // batch is consecutive runs, whichever order batches come in).
    for (const o of this.plan.optimizers) {
      const lo = Math.max(o.first, r.first);
      const hi = Math.min(o.first + o.count, r.first + r.count);
      if (lo >= hi) continue;
      const s = this.byName.get(o.name)!;
      s.runs += hi - lo;
      for (let id = lo; id < hi; id++) {
        const k = id - r.first;
        if (r.status[k] === STATUS_CODE.ok) {
          s.ok++;
          const scored = this.sign * scoreAt(r, k, this.metric);
          if (scored < s.bestScore) {
            s.bestScore = scored;
            s.bestId = id;
          }
        } else if (r.status[k] === STATUS_CODE.diverged) s.diverged++;
        else if (r.status[k] === STATUS_CODE.pruned) s.pruned++;
        else s.error++;
      }
    }
  }

  /** The best ok run so far over every optimizer, by the ranking column; undefined
   * before the first. */
  best(): BestSoFar | undefined {
    let best: (OptimizerSummary & { bestId: number; bestScore: number }) | undefined;
    for (const s of this.byName.values()) if (s.bestId >= 0 && (!best || s.bestScore < best.bestScore)) best = s;
    return (
      best && {
        column: this.column,
        value: this.sign * best.bestScore,
        optimizer: best.optimizer,
        runId: best.bestId,
      }
    );
  }

  get optimizers(): OptimizerSummary[] {
    return [...this.byName.values()].map(({ bestId, bestScore, ...s }) =>
      bestId >= 0 ? { ...s, best: { spec: specAt(this.plan, bestId), value: this.sign * bestScore } } : s,
    );
  }
}

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
  const { full, early } = plannedUpdates(plan);
  const updates =
    early === undefined
      ? `updates: ${full.toLocaleString('en')}\n`
      : `updates: at most ${early.toLocaleString('en')} with early stopping (${plan.earlyStopping!.method}, ${((100 * early) / full).toFixed(1)}%), ${full.toLocaleString('en')} without\n`;
  return `${table([['optimizer', 'runs'], ...rows])}\n${updates}`;
}

const fmt = (x: number): string => (Number.isFinite(x) ? x.toPrecision(6) : String(x));

/** Significant digits of a hyperparameter in the summary (the CSV keeps them all). */
const SETTING_DIGITS = 4;

/** A run's settings for reading: its axes in the CSV's column order (AXIS_NAMES,
 * then the problem's), numbers rounded to SETTING_DIGITS significant digits; its
 * seed when seeds vary. */
export function settingsText(plan: Plan, spec: RunSpec): string {
  const rounded = (v: unknown): string =>
    typeof v === 'number' ? String(Number(v.toPrecision(SETTING_DIGITS))) : JSON.stringify(v);
  const cells = plan.columns.flatMap((axis) => {
    const v = spec.axes[axis];
    return v === undefined ? [] : [`${axis}=${rounded(v)}`];
  });
  // Then the problem's options given as lists, as their columns follow the axes'.
  (plan.problem.axes ?? []).forEach((a, k) => cells.push(`${a.name}=${rounded(spec.problemValues[k])}`));
  if (plan.seeds.length > 1) cells.push(`seed=${spec.seed}`);
  return cells.join(' ');
}

export function bestRuns(plan: Plan, optimizers: readonly OptimizerSummary[]): string {
  const rows = [
    [
      'optimizer',
      'runs',
      'ok',
      'diverged',
      'error',
      ...(plan.earlyStopping ? ['pruned'] : []),
      `best ${columnsOf(plan).rank.column}`,
      'run_id',
      'settings',
    ],
  ];
  for (const s of optimizers) {
    const settings = s.best ? settingsText(plan, s.best.spec) : '';
    rows.push([
      s.optimizer,
      String(s.runs),
      String(s.ok),
      String(s.diverged),
      String(s.error),
      ...(plan.earlyStopping ? [String(s.pruned)] : []),
      s.best ? fmt(s.best.value) : '-',
      s.best ? String(s.best.spec.id) : '-',
      settings,
    ]);
  }
  return `${table(rows)}\n`;
}

/** The best configuration of each optimizer by its mean over seeds (the summary
 * CSV's rank), not by a lucky seed. */
export function bestConfigurations(plan: Plan, summary: Summary): string {
  const c = summary.rank.column;
  const at = summary.columns.indexOf(c);
  const rows = [['optimizer', 'rank', `mean ${c}`, 'std', 'ok/seeds', 'settings']];
  for (const o of plan.optimizers) {
    let best: SummaryRow | undefined;
    for (const r of summary.rows) if (r.optimizer === o.name && (!best || r.rank < best.rank)) best = r;
    if (!best) continue;
    const s = best.stats[at];
    const settings = Object.entries(best.axes)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    rows.push([
      o.name,
      s.n > 0 ? String(best.rank) : '-',
      s.n > 0 ? fmt(s.mean) : '-',
      Number.isFinite(s.std) ? fmt(s.std) : '-',
      `${best.ok}/${best.seeds}`,
      settings + (best.trial !== undefined ? ` trial=${best.trial}` : ''),
    ]);
  }
  return `best configuration by the mean over ${plan.seeds.length} seeds:\n${table(rows)}\n`;
}

/** The best run so far, as the progress line shows it. */
export interface BestSoFar {
  /** The ranking column (`final_loss`, or a held-out accuracy). */
  readonly column: string;
  readonly value: number;
  readonly optimizer: string;
  readonly runId: number;
}

/** What the progress line says. */
export interface ProgressState {
  readonly done: number;
  readonly total: number;
  /** Since the sweep started. */
  readonly seconds: number;
  readonly live: readonly LiveRun[];
  /** Worker processes connected, for an executor that has them on other machines. */
  readonly workers?: number;
  readonly best?: BestSoFar;
}

/** A duration as a progress line shows it: 45s, 3m05s, 2h07m. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/**
 * One line: runs done of the total, the rate, the time left at that rate (once a run
 * is done and a second has passed), the best run so far, and up to two runs in
 * progress with their step and loss.
 */
export function progressLine({ done, total, seconds, live, workers, best }: ProgressState): string {
  const rate = seconds > 0 ? done / seconds : 0;
  const pct = total > 0 ? ((100 * done) / total).toFixed(1) : '100.0';
  const shown = rate >= 10 ? String(Math.round(rate)) : rate.toPrecision(2);
  const left = done > 0 && seconds >= 1 && done < total ? ` ETA ${duration((total - done) / rate)}` : '';
  const fleet = workers === undefined ? '' : ` ${workers} worker${workers === 1 ? '' : 's'}`;
  const top = best ? ` · best ${best.column} ${fmt(best.value)} (${best.optimizer}, run ${best.runId})` : '';
  const now = live
    .slice(0, 2)
    .map((r) => `run ${r.runId} step ${r.step} loss ${fmt(r.loss)}`)
    .join(' | ');
  return `${done}/${total} runs (${pct}%) ${shown}/s${left}${fleet}${top}${now ? ` · ${now}` : ''}`;
}
