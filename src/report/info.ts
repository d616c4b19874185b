/**
 * The report's data step: from a sweep's plan, records and curves to what each figure
 * draws (plain data, tested without any drawing; ./specs.ts turns it into Vega-Lite).
 * A figure that does not apply to the sweep is absent; one whose curves are missing
 * says which. Everything here is bounded by the number of configurations, and the
 * figures that could grow with it (the leaderboard, the sampled-axis scatter) by a
 * fixed count, so that a 100,000-run sweep's page stays small.
 */
import { aggregate, type Summary, type SummaryRow } from '../aggregate.js';
import { Arena } from '../arena.js';
import type { AxisName, Plan } from '../grid.js';
import type { OptimizerName } from '../optimizers/index.js';
import { problemDef } from '../problems/index.js';
import type { Curve, RunRecord } from '../results.js';
import { rng } from '../rng.js';
import { columnsOf, curveColumns as columnsOfCurve } from '../csv.js';
import { contour, lossGrid, type Contour, type Domain } from './contour.js';
import { smoothCurve } from './smooth.js';

export interface ReportInput {
  readonly plan: Plan;
  /** The runs written, in run order (a partial sweep: a prefix, or with gaps). */
  readonly records: readonly RunRecord[];
  /** Curves of some or all runs. */
  readonly curves: ReadonlyMap<number, Curve>;
  /** Whether every run of the plan is in `records`. */
  readonly complete: boolean;
  /** Names of a curve point's values, loss first (default: loss, then the problem's
   * traced coordinates). Accuracy curves name `train_acc` and `test_acc`/`val_acc`. */
  readonly curveColumns?: readonly string[];
  /** Shown as the page's title (default: the plan's name). */
  readonly title?: string;
}

/** Configurations per optimizer in the leaderboard (the summary CSV has them all). */
export const LEADERBOARD_ROWS = 10;
/** Panels of the random search's "Best-N" figure, as in the book. */
export const BEST_N = 20;
/** Points of a sampled-axis scatter at most; beyond, the best and an even sample. */
export const SCATTER_POINTS = 2000;
const SCATTER_BEST = 500;
/** Loss means above this multiple of the starting loss are drawn at the axis's edge. */
const OFF_SCALE = 1e3;

export const DISPLAY: Readonly<Record<OptimizerName, string>> = {
  sgd: 'SGD',
  momentum: 'Momentum',
  nesterov: 'Nesterov',
  adagrad: 'AdaGrad',
  rmsprop: 'RMSprop',
  adam: 'Adam',
};

/** A configuration's axis values as text: `lr=0.95 α=0.9`. */
export const AXIS_SYMBOL: Readonly<Record<AxisName, string>> = {
  lr: 'lr',
  momentum: 'α',
  rho: 'ρ',
  beta1: 'β₁',
  beta2: 'β₂',
  eps: 'ε',
  weight_decay: 'λ',
};

/** A value as a figure or table shows it: four significant digits, and an exponent
 * beyond 10⁶ and below 10⁻⁴. */
export function short(x: number): string {
  if (!Number.isFinite(x)) return '';
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e6 || a < 1e-4)) return x.toExponential(3).replace(/\.?0+e/, 'e');
  return String(Number(x.toPrecision(4)));
}

export function settings(plan: Plan, row: SummaryRow): string {
  const problem = (plan.problem.axes ?? []).map((a, i) => {
    const v = row.problemValues[i];
    return `${a.name}=${typeof v === 'number' ? short(v) : typeof v === 'string' ? v : JSON.stringify(v)}`;
  });
  return [
    ...plan.columns.filter((a) => row.axes[a] !== undefined).map((a) => `${AXIS_SYMBOL[a]}=${short(row.axes[a]!)}`),
    ...problem,
  ].join(' ');
}

/** What the marks of a value-or-not point say. */
export type Mark = 'value' | 'no-ok' | 'off-scale';

export interface Series {
  readonly key: string;
  readonly optimizer: OptimizerName;
}

export interface ReportInfo {
  readonly title: string;
  readonly plan: Plan;
  readonly complete: boolean;
  readonly runs: {
    readonly total: number;
    readonly present: number;
    readonly ok: number;
    readonly diverged: number;
    readonly error: number;
    /** Stopped early by the sweep's early-stopping rule. */
    readonly pruned: number;
  };
  readonly summary: Summary;
  /** The ranking column and its label. */
  readonly metric: { readonly column: string; readonly higher: boolean; readonly loss: boolean };
  readonly leaderboard: Leaderboard;
  readonly trajectories?: Trajectories;
  readonly curves?: CurveBands;
  readonly smoothed?: Smoothed;
  readonly lr?: LrLines;
  readonly heatmaps: readonly Heatmap[];
  readonly bestN?: BestN;
  readonly sampled?: Sampled;
  /** Page-level notes (curves missing, partial data). */
  readonly notes: readonly string[];
}

export interface Leaderboard {
  /** Rows shown: per optimizer in config order, best first. */
  readonly rows: readonly SummaryRow[];
  /** Configurations not shown (beyond LEADERBOARD_ROWS of their optimizer). */
  readonly hidden: number;
}

// ——— trajectories ————————————————————————————————————————————————————————

export interface TrajectoryPanel {
  readonly optimizer: OptimizerName;
  readonly title: string;
  readonly runId: number;
  /** The run's recorded points (step, x, y), start first; empty if no curve. */
  readonly points: readonly { readonly step: number; readonly x: number; readonly y: number }[];
  readonly status: RunRecord['status'];
  /** Why the panel has no path, if it has none. */
  readonly missing?: string;
}

export interface Trajectories {
  readonly panels: readonly TrajectoryPanel[];
  readonly domain: Domain;
  readonly contour: Contour;
  readonly optimum: { readonly x: number; readonly y: number; readonly known: boolean };
  readonly axes: readonly [string, string];
}

// ——— loss curves ————————————————————————————————————————————————————————

export interface BandPoint {
  readonly series: string;
  readonly step: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
}

export interface CurveBands {
  readonly points: readonly BandPoint[];
  readonly series: readonly { readonly key: string; readonly optimizer: OptimizerName; readonly seeds: number }[];
  readonly log: boolean;
  /** Optimizers whose best configuration has no ok run with a curve. */
  readonly missing: readonly string[];
}

export interface Smoothed {
  readonly points: readonly {
    readonly series: string;
    readonly step: number;
    readonly loss: number;
    readonly marker: boolean;
  }[];
}

// ——— learning rate and heatmaps ———————————————————————————————————————————

export interface LrPoint {
  readonly series: string;
  readonly optimizer: OptimizerName;
  /** The optimizer's display name (the colour). */
  readonly name: string;
  /** `α=0.9`, or `no α` for an optimizer without momentum (the dash). */
  readonly alpha: string;
  readonly lr: number;
  /** The best configuration's mean (over the axes not drawn); NaN for no-ok. */
  readonly value: number;
  readonly mark: Mark;
}

export interface LrLines {
  readonly points: readonly LrPoint[];
  readonly logY: boolean;
  /** Where no-ok and off-scale marks sit (the worse end of the axis). */
  readonly edge: number;
  /** Axes taken at their best value per point (not drawn). */
  readonly over: readonly AxisName[];
}

export interface HeatCell {
  readonly x: number;
  readonly y: number;
  readonly value: number;
  readonly mark: Mark;
  readonly label: string;
  /** Whether the cell's colour is dark (its label is then white). */
  readonly dark: boolean;
}

export interface Heatmap {
  readonly optimizer: OptimizerName;
  readonly axes: readonly [AxisName, AxisName];
  readonly cells: readonly HeatCell[];
  readonly logColor: boolean;
  readonly over: readonly AxisName[];
}

// ——— random search ————————————————————————————————————————————————————————

export interface BestPanel {
  readonly rank: number;
  readonly title: string;
  /** The trial's value and settings. */
  readonly subtitle: string;
  readonly runId: number;
  readonly points: readonly {
    readonly x: number;
    readonly value: number;
    readonly kind: 'held-out' | 'training' | 'loss';
  }[];
  readonly missing?: string;
}

export interface BestN {
  readonly panels: readonly BestPanel[];
  /** Accuracies (held-out solid, training dashed, as the book), else the loss. */
  readonly accuracy: boolean;
  readonly x: 'epoch' | 'step';
  readonly heldOut: string;
}

export interface Sampled {
  readonly axes: readonly { readonly axis: AxisName; readonly log: boolean }[];
  readonly points: readonly {
    readonly optimizer: OptimizerName;
    readonly values: Partial<Record<AxisName, number>>;
    readonly value: number;
    readonly mark: Mark;
  }[];
  readonly edge: number;
  readonly logY: boolean;
  readonly drawn: number;
  readonly of: number;
}

// ——— the data step ————————————————————————————————————————————————————————

/** Runs the figures draw curves for: a report of a sweep that kept no curves needs
 * only these re-run (runs are deterministic). */
export function curveRuns(plan: Plan, summary: Summary): number[] {
  const ids = new Set<number>();
  const seeds = plan.seeds.length;
  for (const row of bestPerOptimizer(summary).values()) {
    for (let k = 0; k < seeds; k++) ids.add(row.group * seeds + k);
  }
  if (plan.random) for (const row of topRows(summary, BEST_N)) if (row.best >= 0) ids.add(row.best);
  return [...ids].sort((a, b) => a - b);
}

function bestPerOptimizer(summary: Summary): Map<OptimizerName, SummaryRow> {
  const best = new Map<OptimizerName, SummaryRow>();
  for (const row of summary.rows) {
    const b = best.get(row.optimizer);
    if (!b || row.rank < b.rank) best.set(row.optimizer, row);
  }
  return best;
}

function topRows(summary: Summary, n: number): SummaryRow[] {
  return summary.rows
    .filter((r) => Number.isFinite(r.stats[summary.columns.indexOf(summary.rank.column)].mean))
    .sort((a, b) => a.rank - b.rank || a.group - b.group)
    .slice(0, n);
}

export function reportInfo(input: ReportInput): ReportInfo {
  const { plan, records, curves } = input;
  const summary = aggregate(plan, records);
  const l = columnsOf(plan);
  const metric = { ...l.rank, loss: l.rank.column === 'final_loss' };
  const rankStat = summary.columns.indexOf(metric.column);
  const curveColumns = input.curveColumns ?? columnsOfCurve(plan);
  const byId = new Map(records.map((r) => [r.runId, r]));
  const notes: string[] = [];
  const count = (s: RunRecord['status']): number => records.filter((r) => r.status === s).length;
  const runs = {
    total: plan.total,
    present: records.length,
    ok: count('ok'),
    diverged: count('diverged'),
    error: count('error'),
    pruned: count('pruned'),
  };
  if (!input.complete)
    notes.push(`Partial sweep: ${runs.present} of ${runs.total} runs written; every figure shows those runs only.`);

  const best = bestPerOptimizer(summary);
  const value = (row: SummaryRow): number => row.stats[rankStat].mean;
  // The starting loss, for the edge of loss axes: the largest at step 0 of any curve,
  // else the largest best loss seen (a run's best is at most its start).
  let startLoss = 0;
  for (const c of curves.values())
    if (c.values.length > 0 && Number.isFinite(c.values[0])) startLoss = Math.max(startLoss, c.values[0]);
  if (startLoss === 0)
    for (const r of records) if (Number.isFinite(r.bestLoss)) startLoss = Math.max(startLoss, r.bestLoss);
  const offScale = metric.loss && startLoss > 0 ? OFF_SCALE * startLoss : Infinity;
  const markOf = (v: number): Mark => (!Number.isFinite(v) ? 'no-ok' : v > offScale ? 'off-scale' : 'value');
  // The loss bands and the smoothed curves both draw each best configuration's ok seeds.
  const seeded = bestSeedCurves(plan, best, byId, curves);
  const width = curveWidth(curves);

  return {
    title: input.title ?? plan.name,
    plan,
    complete: input.complete,
    runs,
    summary,
    metric,
    leaderboard: leaderboard(summary),
    trajectories: trajectories(plan, best, byId, curves, curveColumns),
    curves: curveBands(plan, seeded, width),
    smoothed: plan.problem.name === 'mnist-mlp' ? smoothed(seeded, width) : undefined,
    lr: lrLines(plan, summary, value, markOf, metric.loss),
    heatmaps: heatmaps(plan, summary, value, markOf, metric.loss),
    bestN: plan.random ? bestN(plan, summary, byId, curves, curveColumns, l.metrics) : undefined,
    sampled: plan.random ? sampled(plan, summary, value, markOf, metric.loss) : undefined,
    notes,
  };
}

function leaderboard(summary: Summary): Leaderboard {
  const byOptimizer = new Map<OptimizerName, SummaryRow[]>();
  for (const row of summary.rows) {
    const list = byOptimizer.get(row.optimizer) ?? [];
    list.push(row);
    byOptimizer.set(row.optimizer, list);
  }
  const rows: SummaryRow[] = [];
  for (const list of byOptimizer.values())
    rows.push(...[...list].sort((a, b) => a.rank - b.rank || a.group - b.group).slice(0, LEADERBOARD_ROWS));
  return { rows, hidden: summary.rows.length - rows.length };
}

function trajectories(
  plan: Plan,
  best: Map<OptimizerName, SummaryRow>,
  byId: Map<number, RunRecord>,
  curves: ReadonlyMap<number, Curve>,
  columns: readonly string[],
): Trajectories | undefined {
  const def = problemDef(plan.problem);
  const traced = def.trajectory?.(plan.problem.options) ?? [];
  if (def.dim(plan.problem.options) !== 2 || traced.length !== 2 || def.load) return undefined;
  const cx = columns.indexOf(traced[0]);
  const cy = columns.indexOf(traced[1]);
  const width = columns.length;
  const panels: TrajectoryPanel[] = [];
  for (const opt of plan.optimizers) {
    const row = best.get(opt.name);
    if (!row) continue;
    // The configuration's best ok run, else its first run (drawn up to where it stopped).
    const runId = row.best >= 0 ? row.best : row.group * plan.seeds.length;
    const record = byId.get(runId);
    const curve = curves.get(runId);
    const points: TrajectoryPanel['points'][number][] = [];
    if (curve && cx >= 0 && cy >= 0)
      for (let p = 0; p < curve.step.length; p++) {
        const x = curve.values[p * width + cx];
        const y = curve.values[p * width + cy];
        if (Number.isFinite(x) && Number.isFinite(y)) points.push({ step: curve.step[p], x, y });
      }
    panels.push({
      optimizer: opt.name,
      title: `${DISPLAY[opt.name]} ${settings(plan, row)}`.trim(),
      runId,
      points,
      status: record?.status ?? 'error',
      ...(points.length === 0 && {
        missing: !record
          ? `run ${runId} not written`
          : !curve
            ? `no curve recorded for run ${runId}`
            : `run ${runId} has no finite point`,
      }),
    });
  }
  const optimum = def.optimum?.(plan.problem.options);
  const start = startPoint(plan);
  const domain = domainOf(start, optimum ? [optimum[0], optimum[1]] : start, panels);
  const c = contour(lossGrid(plan.problem, plan.seeds[0], domain), domain);
  return {
    panels,
    domain,
    contour: c,
    optimum: optimum ? { x: optimum[0], y: optimum[1], known: true } : { x: c.lowest.x, y: c.lowest.y, known: false },
    axes: [traced[0], traced[1]],
  };
}

/** The problem's starting point (seed of the first run). */
function startPoint(plan: Plan): [number, number] {
  const def = problemDef(plan.problem);
  const seed = plan.seeds[0];
  const problem = def.create(plan.problem.options, {
    seed,
    rng: (label) => rng(seed, label),
    data: undefined,
    arena: Arena.create(def.scratchBytes?.(plan.problem.options) ?? 0),
  });
  const W = new Float64Array(2);
  problem.init(W);
  return [W[0], W[1]];
}

/** The box around the start, the optimum and the paths, each path clipped to within
 * three start–optimum spans of the optimum (a path flying off does not shrink the
 * rest), padded by a tenth. */
function domainOf(start: [number, number], optimum: [number, number], panels: readonly TrajectoryPanel[]): Domain {
  const span = Math.max(Math.abs(start[0] - optimum[0]), Math.abs(start[1] - optimum[1]), 1e-3);
  const reach = 3 * span;
  let [x0, x1] = [Math.min(start[0], optimum[0]), Math.max(start[0], optimum[0])];
  let [y0, y1] = [Math.min(start[1], optimum[1]), Math.max(start[1], optimum[1])];
  for (const p of panels)
    for (const { x, y } of p.points) {
      if (Math.abs(x - optimum[0]) > reach || Math.abs(y - optimum[1]) > reach) continue;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  const padX = Math.max((x1 - x0) * 0.1, span * 0.1);
  const padY = Math.max((y1 - y0) * 0.1, span * 0.1);
  return { x: [x0 - padX, x1 + padX], y: [y0 - padY, y1 + padY] };
}

/** `width`: values per curve point (`curveWidth`). */
function curveBands(plan: Plan, seeded: readonly SeedCurves[], width: number): CurveBands | undefined {
  const points: BandPoint[] = [];
  const series: CurveBands['series'][number][] = [];
  const missing: string[] = [];
  for (const { opt, row, runs } of seeded) {
    const key = `${DISPLAY[opt.name]} ${settings(plan, row)}`.trim();
    if (runs.length === 0) {
      missing.push(DISPLAY[opt.name]);
      continue;
    }
    series.push({ key, optimizer: opt.name, seeds: runs.length });
    // Steps every seed's curve has (ok runs record the same steps).
    const n = Math.min(...runs.map((c) => c.step.length));
    for (let p = 0; p < n; p++) {
      const losses = runs.map((c) => c.values[p * width]).filter(Number.isFinite);
      if (losses.length === 0) continue;
      const mean = losses.reduce((a, b) => a + b, 0) / losses.length;
      points.push({ series: key, step: runs[0].step[p], mean, min: Math.min(...losses), max: Math.max(...losses) });
    }
  }
  if (series.length === 0 && missing.length === 0) return undefined;
  const positive = points.filter((p) => p.min > 0);
  // Not Math.min(...): a curve at every step of a long run has more points than a
  // call can take arguments.
  const lo = positive.reduce((m, p) => Math.min(m, p.min), Infinity);
  const hi = positive.reduce((m, p) => Math.max(m, p.max), -Infinity);
  return { points, series, log: positive.length === points.length && points.length > 0 && hi / lo >= 100, missing };
}

/** An optimizer's best configuration and the curves of its ok seeds (maybe none). */
interface SeedCurves {
  readonly opt: Plan['optimizers'][number];
  readonly row: SummaryRow;
  readonly runs: Curve[];
}

/** Each optimizer's best configuration (in the plan's order, those that have one)
 * with the curves of its ok seeds, those it has. */
function bestSeedCurves(
  plan: Plan,
  best: Map<OptimizerName, SummaryRow>,
  byId: Map<number, RunRecord>,
  curves: ReadonlyMap<number, Curve>,
): SeedCurves[] {
  const out: SeedCurves[] = [];
  for (const opt of plan.optimizers) {
    const row = best.get(opt.name);
    if (!row) continue;
    const runs: Curve[] = [];
    for (let k = 0; k < plan.seeds.length; k++) {
      const id = row.group * plan.seeds.length + k;
      const c = curves.get(id);
      if (byId.get(id)?.status === 'ok' && c) runs.push(c);
    }
    out.push({ opt, row, runs });
  }
  return out;
}

/** Values per curve point, from any curve (all share the plan's columns). */
function curveWidth(curves: ReadonlyMap<number, Curve>): number {
  for (const c of curves.values()) if (c.step.length > 0) return c.values.length / c.step.length;
  return 1;
}

function smoothed(seeded: readonly SeedCurves[], width: number): Smoothed | undefined {
  const points: Smoothed['points'][number][] = [];
  for (const { opt, runs } of seeded) {
    if (runs.length === 0) continue;
    const n = Math.min(...runs.map((c) => c.step.length));
    const mean = Array.from({ length: n }, (_, p) => runs.reduce((a, c) => a + c.values[p * width], 0) / runs.length);
    const s = smoothCurve(mean);
    const every = Math.max(1, Math.round(n / 20));
    s.forEach((loss, p) =>
      points.push({ series: DISPLAY[opt.name], step: runs[0].step[p], loss, marker: p % every === 0 }),
    );
  }
  return points.length > 0 ? { points } : undefined;
}

/** Key of a configuration's series in the lr figure: the optimizer, and α where it has one. */
function seriesKey(row: SummaryRow): string {
  const a = row.axes.momentum;
  return a === undefined ? DISPLAY[row.optimizer] : `${DISPLAY[row.optimizer]} α=${short(a)}`;
}

/** The best row (lowest rank) per key. */
function bestBy<K>(rows: readonly SummaryRow[], key: (r: SummaryRow) => K): Map<K, SummaryRow> {
  const out = new Map<K, SummaryRow>();
  for (const r of rows) {
    const k = key(r);
    const b = out.get(k);
    if (!b || r.rank < b.rank) out.set(k, r);
  }
  return out;
}

function gridAxis(plan: Plan, optimizer: OptimizerName, axis: AxisName): readonly number[] | undefined {
  const a = plan.optimizers.find((o) => o.name === optimizer)?.axes.find((x) => x.name === axis);
  return a?.kind === 'grid' ? a.values : undefined;
}

/** Where marks without a value sit: past the worse end of the values' range. */
function edgeOf(values: readonly number[], higher: boolean, log: boolean): number {
  const finite = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  if (finite.length === 0) return higher ? 0 : 1;
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  if (higher) return log ? lo / 2 : lo - 0.05 * Math.max(hi - lo, Math.abs(lo), 1e-9);
  return log ? hi * 4 : hi + 0.05 * Math.max(hi - lo, Math.abs(hi), 1e-9);
}

function otherGridAxes(plan: Plan, optimizer: OptimizerName, drawn: readonly AxisName[]): AxisName[] {
  const opt = plan.optimizers.find((o) => o.name === optimizer)!;
  return opt.axes
    .filter((a) => !drawn.includes(a.name) && (a.kind !== 'grid' || a.values.length > 1))
    .map((a) => a.name);
}

function lrLines(
  plan: Plan,
  summary: Summary,
  value: (r: SummaryRow) => number,
  markOf: (v: number) => Mark,
  loss: boolean,
): LrLines | undefined {
  const eligible = plan.optimizers.filter((o) => (gridAxis(plan, o.name, 'lr')?.length ?? 0) > 1).map((o) => o.name);
  if (eligible.length === 0) return undefined;
  const rows = summary.rows.filter((r) => eligible.includes(r.optimizer));
  const chosen = bestBy(rows, (r) => `${seriesKey(r)}|${r.axes.lr}`);
  const raw = [...chosen.values()].map((r) => ({
    series: seriesKey(r),
    optimizer: r.optimizer,
    name: DISPLAY[r.optimizer],
    alpha: r.axes.momentum === undefined ? 'no α' : `α=${short(r.axes.momentum)}`,
    lr: r.axes.lr!,
    v: value(r),
  }));
  const logY = loss && raw.every((p) => !Number.isFinite(p.v) || p.v > 0);
  const edge = edgeOf(
    raw.filter((p) => markOf(p.v) === 'value').map((p) => p.v),
    summary.rank.higher,
    logY,
  );
  const points = raw.map((p) => {
    const mark = markOf(p.v);
    const { v, ...rest } = p;
    return { ...rest, value: mark === 'value' ? v : edge, mark };
  });
  const over = [...new Set(eligible.flatMap((o) => otherGridAxes(plan, o, ['lr', 'momentum'])))];
  return { points, logY, edge, over };
}

function heatmaps(
  plan: Plan,
  summary: Summary,
  value: (r: SummaryRow) => number,
  markOf: (v: number) => Mark,
  loss: boolean,
): Heatmap[] {
  const out: Heatmap[] = [];
  const higher = summary.rank.higher;
  for (const opt of plan.optimizers) {
    if ((gridAxis(plan, opt.name, 'lr')?.length ?? 0) < 2) continue;
    // lr × momentum by default; else lr × the optimizer's first other grid axis.
    const second = (['momentum', ...opt.axes.map((a) => a.name)] as AxisName[]).find(
      (a) => a !== 'lr' && (gridAxis(plan, opt.name, a)?.length ?? 0) > 1,
    );
    if (!second) continue;
    const rows = summary.rows.filter((r) => r.optimizer === opt.name);
    const chosen = bestBy(rows, (r) => `${r.axes.lr}|${r.axes[second]}`);
    const raw = [...chosen.values()].map((r) => ({ x: r.axes.lr!, y: r.axes[second]!, v: value(r) }));
    const shown = raw.filter((c) => markOf(c.v) === 'value').map((c) => c.v);
    const logColor = loss && shown.every((v) => v > 0);
    const t = (v: number): number => (logColor ? Math.log(v) : v);
    const lo = Math.min(...shown.map(t));
    const hi = Math.max(...shown.map(t));
    const cells = raw.map(({ x, y, v }) => {
      const mark = markOf(v);
      // Viridis runs dark to light; the better end is light.
      const u = hi > lo ? (t(v) - lo) / (hi - lo) : 0.5;
      const dark = mark === 'value' && (higher ? u < 0.45 : u > 0.55);
      const label = mark === 'value' ? short(v) : mark === 'no-ok' ? 'no ok run' : 'off scale';
      return { x, y, value: mark === 'value' ? v : NaN, mark, label, dark };
    });
    out.push({
      optimizer: opt.name,
      axes: ['lr', second],
      cells,
      logColor,
      over: otherGridAxes(plan, opt.name, ['lr', second]),
    });
  }
  return out;
}

function bestN(
  plan: Plan,
  summary: Summary,
  byId: Map<number, RunRecord>,
  curves: ReadonlyMap<number, Curve>,
  columns: readonly string[],
  metrics: readonly string[],
): BestN {
  const heldOut = metrics.find((m) => m === 'val_acc' || m === 'test_acc') ?? 'loss';
  const train = columns.indexOf('train_acc');
  const held = columns.indexOf(heldOut);
  const accuracy = train >= 0 && held >= 0;
  const width = columns.length;
  const mnist = plan.problem.name === 'mnist-mlp';
  // An epoch, as the book counts it: the fit samples over the batch size.
  let perEpoch = 0;
  if (mnist) {
    const o = plan.problem.options as { train_samples: number; validation: number; batch_size: number };
    const fit = o.train_samples - Math.floor(o.validation * o.train_samples);
    perEpoch = Math.max(1, fit / o.batch_size);
  }
  const panels: BestPanel[] = topRows(summary, BEST_N).map((row, k) => {
    const runId = row.best;
    const curve = curves.get(runId);
    const points: BestPanel['points'][number][] = [];
    if (curve)
      for (let p = 0; p < curve.step.length; p++) {
        const x = perEpoch > 0 ? curve.step[p] / perEpoch : curve.step[p];
        if (accuracy) {
          points.push({ x, value: curve.values[p * width + held], kind: 'held-out' });
          points.push({ x, value: curve.values[p * width + train], kind: 'training' });
        } else points.push({ x, value: curve.values[p * width], kind: 'loss' });
      }
    const heldValue = row.stats[summary.columns.indexOf(summary.rank.column)].mean;
    const detail = `${plan.optimizers.length > 1 ? DISPLAY[row.optimizer] + ' ' : ''}${settings(plan, row)}`;
    return {
      rank: k + 1,
      title: `Best-${k + 1}`,
      subtitle: `${summary.rank.column} ${short(heldValue)} · ${detail}`,
      runId,
      points: points.filter((p) => Number.isFinite(p.value)),
      ...(!curve && { missing: byId.has(runId) ? `no curve for run ${runId}` : `run ${runId} not written` }),
    };
  });
  return { panels, accuracy, x: perEpoch > 0 ? 'epoch' : 'step', heldOut };
}

function sampled(
  plan: Plan,
  summary: Summary,
  value: (r: SummaryRow) => number,
  markOf: (v: number) => Mark,
  loss: boolean,
): Sampled | undefined {
  const axes = new Map<AxisName, boolean>();
  for (const o of plan.optimizers)
    for (const a of o.axes)
      if (a.kind === 'random') axes.set(a.name, a.distribution === 'log-uniform' || axes.get(a.name) === true);
  if (axes.size === 0) return undefined;
  const rows = summary.rows.filter((r) => r.trial !== undefined);
  let drawn = rows;
  if (rows.length > SCATTER_POINTS) {
    const best = [...rows].sort((a, b) => a.rank - b.rank).slice(0, SCATTER_BEST);
    const taken = new Set(best.map((r) => r.group));
    const rest = rows.filter((r) => !taken.has(r.group));
    const stride = rest.length / (SCATTER_POINTS - SCATTER_BEST);
    drawn = [...best, ...Array.from({ length: SCATTER_POINTS - SCATTER_BEST }, (_, i) => rest[Math.floor(i * stride)])];
  }
  const logY = loss && drawn.every((r) => !Number.isFinite(value(r)) || value(r) > 0);
  const edge = edgeOf(
    drawn.map(value).filter((v) => markOf(v) === 'value'),
    summary.rank.higher,
    logY,
  );
  return {
    axes: [...axes].map(([axis, log]) => ({ axis, log })),
    points: drawn.map((r) => {
      const v = value(r);
      const mark = markOf(v);
      return { optimizer: r.optimizer, values: r.axes, value: mark === 'value' ? v : edge, mark };
    }),
    edge,
    logY,
    drawn: drawn.length,
    of: rows.length,
  };
}
