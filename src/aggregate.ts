/**
 * Aggregates over seeds: one summary row per configuration (every axis but the
 * seed), the rows of `results/<name>.summary.csv`.
 *
 * Seeds vary fastest in the expansion order and every optimizer's run count is a
 * multiple of the number of seeds, so configuration g is exactly runs
 * `g·S … g·S + S − 1` (S = plan.seeds.length): a group is contiguous, and a
 * consumer that sees runs in run order finishes a group before the next begins.
 * `Aggregator` keeps the values of the groups still open (one, in run order; early
 * stopping writes a configuration's seeds together too) and one small row per
 * finished group: memory grows with the number of configurations, not of runs.
 * Runs may come in any order, each once: the statistics are the same.
 *
 * Per group and per statistic column (final_loss, and the problem's ranking column
 * when it is another): mean (the plain sum in run order over n), sample standard
 * deviation (n − 1, two passes over the group's values; NaN below two), min, max,
 * over the group's ok runs (a pruned run's loss is where it was stopped: not counted). `rank`: 1 for the best mean in the ranking column; equal
 * means share the lower rank (1, 2, 2, 4); groups without a value rank last.
 */
import { specAt, type AxisName, type Plan } from './grid.js';
import type { OptimizerName } from './optimizers/index.js';
import { STATUS_CODE, type ResultBatch, type RunRecord } from './results.js';
import { columnsOf, csvLine } from './csv.js';

export interface Stats {
  readonly mean: number;
  /** Sample standard deviation (n − 1); NaN below two values. */
  readonly std: number;
  readonly min: number;
  readonly max: number;
  /** Values the statistics are over (the group's ok runs). */
  readonly n: number;
}

export interface SummaryRow {
  /** Index of the configuration: its runs are `group·S … group·S + S − 1`. */
  readonly group: number;
  readonly optimizer: OptimizerName;
  /** The configuration's axis cells, as in the results CSV (absent: blank). */
  readonly axes: Partial<Record<AxisName, number>>;
  readonly trial: number | undefined;
  /** The configuration's problem-axis values (`plan.problem.axes` order). */
  readonly problemValues: readonly unknown[];
  /** Runs of the group seen (every seed, unless the sweep is partial). */
  readonly seeds: number;
  readonly ok: number;
  readonly diverged: number;
  readonly error: number;
  /** Stopped early (early stopping only). */
  readonly pruned: number;
  /** One entry per `Summary.columns`. */
  readonly stats: readonly Stats[];
  /** The group's ok run best in the ranking column; −1 if none. */
  readonly best: number;
  /** 1 = best mean in the ranking column; 0 until `Aggregator.summary`. */
  readonly rank: number;
}

export interface Summary {
  /** The statistic columns: final_loss, then the ranking column if another. */
  readonly columns: readonly string[];
  /** The ranking column (an entry of `columns`) and which way is better. */
  readonly rank: { readonly column: string; readonly higher: boolean };
  /** Rows in run order. */
  readonly rows: readonly SummaryRow[];
}

/** The statistics of values in the order given (their sum taken in that order). */
export function stats(values: readonly number[]): Stats {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN, min: NaN, max: NaN, n };
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / n;
  let squares = 0;
  for (const v of values) squares += (v - mean) * (v - mean);
  return { mean, std: n < 2 ? NaN : Math.sqrt(squares / (n - 1)), min, max, n };
}

/** Competition ranks of `values` (better first per `higher`); NaN ranks last. */
export function ranks(values: readonly number[], higher: boolean): number[] {
  const order = values
    .map((v, i) => ({ v, i }))
    .filter(({ v }) => Number.isFinite(v))
    .sort((a, b) => (higher ? b.v - a.v : a.v - b.v));
  const out = new Array<number>(values.length).fill(order.length + 1);
  order.forEach(({ v, i }, k) => {
    out[i] = k > 0 && order[k - 1].v === v ? out[order[k - 1].i] : k + 1;
  });
  return out;
}

interface Open {
  group: number;
  runs: number;
  ok: number;
  diverged: number;
  error: number;
  pruned: number;
  /** Per statistic column, per seed position: the ok run's value (undefined: none). */
  values: (number | undefined)[][];
  seen: Uint8Array;
  best: number;
  bestValue: number;
}

/**
 * Aggregates runs given each once, in any order (gaps allowed: a partial sweep). It
 * is a results consumer: `accept` takes the coordinator's batches; `add` takes
 * records one at a time (a CSV read back); `summary` closes the open groups.
 */
export class Aggregator {
  readonly columns: readonly string[];
  readonly rankBy: { readonly column: string; readonly higher: boolean };
  /** Index of each statistic column in the records' metrics; −1 for final_loss. */
  private readonly metricIndex: readonly number[];
  private readonly rankStat: number;
  private readonly groupRuns: number;
  private readonly closed = new Map<number, SummaryRow>();
  private readonly open = new Map<number, Open>();

  constructor(readonly plan: Plan) {
    const l = columnsOf(plan);
    this.rankBy = l.rank;
    this.columns = l.rank.column === 'final_loss' ? ['final_loss'] : ['final_loss', l.rank.column];
    this.metricIndex = this.columns.map((c) => (c === 'final_loss' ? -1 : l.metrics.indexOf(c)));
    this.rankStat = this.columns.indexOf(l.rank.column);
    this.groupRuns = plan.seeds.length;
  }

  /** A batch of the coordinator's results (a results consumer's `accept`). */
  accept(batch: ResultBatch): void {
    const m = batch.metricCount;
    const value = (k: number, c: number): number =>
      this.metricIndex[c] < 0 ? batch.finalLoss[k] : batch.metrics[k * m + this.metricIndex[c]];
    for (let k = 0; k < batch.count; k++) this.run(batch.first + k, batch.status[k], (c) => value(k, c));
  }

  /** One run's record. */
  add(r: RunRecord): void {
    this.run(r.runId, STATUS_CODE[r.status], (c) =>
      r.status !== 'ok' ? NaN : this.metricIndex[c] < 0 ? r.finalLoss : r.metrics[this.metricIndex[c]],
    );
  }

  /** The rows so far, in run order, ranked (closing the groups still open). */
  summary(): Summary {
    for (const g of this.open.values()) this.closed.set(g.group, this.close(g));
    this.open.clear();
    const rows = [...this.closed.values()].sort((a, b) => a.group - b.group);
    const r = ranks(
      rows.map((row) => row.stats[this.rankStat].mean),
      this.rankBy.higher,
    );
    return { columns: this.columns, rank: this.rankBy, rows: rows.map((row, i) => ({ ...row, rank: r[i] })) };
  }

  private run(runId: number, status: number, value: (column: number) => number): void {
    if (!Number.isInteger(runId) || runId < 0 || runId >= this.plan.total)
      throw new RangeError(`run ${runId} is not in 0 … ${this.plan.total - 1}`);
    const group = Math.floor(runId / this.groupRuns);
    const seed = runId - group * this.groupRuns;
    let g = this.open.get(group);
    if (!g) {
      if (this.closed.has(group)) throw new RangeError(`run ${runId} given twice (runs must come once each)`);
      g = {
        group,
        runs: 0,
        ok: 0,
        diverged: 0,
        error: 0,
        pruned: 0,
        values: this.columns.map(() => new Array<number | undefined>(this.groupRuns)),
        seen: new Uint8Array(this.groupRuns),
        best: -1,
        bestValue: NaN,
      };
      this.open.set(group, g);
    }
    if (g.seen[seed]) throw new RangeError(`run ${runId} given twice (runs must come once each)`);
    g.seen[seed] = 1;
    g.runs++;
    if (status === STATUS_CODE.ok) {
      g.ok++;
      for (let c = 0; c < this.columns.length; c++) {
        const v = value(c);
        if (Number.isFinite(v)) g.values[c][seed] = v;
      }
      // The best ok run; between equal values, the lower run id.
      const v = value(this.rankStat);
      if (
        Number.isFinite(v) &&
        (g.best < 0 ||
          (this.rankBy.higher ? v > g.bestValue : v < g.bestValue) ||
          (v === g.bestValue && runId < g.best))
      ) {
        g.best = runId;
        g.bestValue = v;
      }
    } else if (status === STATUS_CODE.diverged) g.diverged++;
    else if (status === STATUS_CODE.pruned) g.pruned++;
    else g.error++;
    if (g.runs === this.groupRuns) {
      this.closed.set(group, this.close(g));
      this.open.delete(group);
    }
  }

  private close(g: Open): SummaryRow {
    const spec = specAt(this.plan, g.group * this.groupRuns);
    return {
      group: g.group,
      optimizer: spec.optimizer,
      axes: spec.axes,
      trial: spec.trial,
      problemValues: spec.problemValues,
      seeds: g.runs,
      ok: g.ok,
      diverged: g.diverged,
      error: g.error,
      pruned: g.pruned,
      // In seed order, whatever order the runs came in.
      stats: g.values.map((vs) => stats(vs.filter((v): v is number => v !== undefined))),
      best: g.best,
      rank: 0,
    };
  }
}

/** The summary of records (each run once, in any order). */
export function aggregate(plan: Plan, runs: Iterable<RunRecord>): Summary {
  const a = new Aggregator(plan);
  for (const r of runs) a.add(r);
  return a.summary();
}

const STAT_NAMES = ['mean', 'std', 'min', 'max'] as const;

/** The header of the summary CSV. */
export function summaryHeader(plan: Plan, summary: Pick<Summary, 'columns'>): string[] {
  return [
    'optimizer',
    ...plan.columns,
    ...(plan.problem.axes ?? []).map((a) => a.name),
    ...(plan.random ? ['trial'] : []),
    'seeds',
    'ok',
    'diverged',
    'error',
    ...(plan.earlyStopping ? ['pruned'] : []),
    ...summary.columns.flatMap((c) => STAT_NAMES.map((s) => `${c}_${s}`)),
    'rank',
  ];
}

/** `results/<name>.summary.csv`: the header and one record per configuration, in the
 * results CSV's formatting (shortest round-trip numbers, blank for non-finite). */
export function summaryCsv(plan: Plan, summary: Summary): string {
  let text = csvLine(summaryHeader(plan, summary));
  for (const row of summary.rows) {
    const cells: unknown[] = [row.optimizer, ...plan.columns.map((a) => row.axes[a])];
    // A problem axis's value as the results CSV has it: a number, a name, or JSON.
    for (const v of row.problemValues)
      cells.push(typeof v === 'number' || typeof v === 'string' ? v : JSON.stringify(v));
    if (plan.random) cells.push(row.trial);
    cells.push(row.seeds, row.ok, row.diverged, row.error);
    if (plan.earlyStopping) cells.push(row.pruned);
    for (const s of row.stats) cells.push(s.mean, s.std, s.min, s.max);
    cells.push(row.rank);
    text += csvLine(cells);
  }
  return text;
}
