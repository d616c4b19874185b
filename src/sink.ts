/**
 * The CSV: its columns are declared here once, with their meaning (the README's
 * column table says the same). RFC 4180; numbers in shortest round-trip form
 * (JavaScript's own number-to-string, no locale); blank for "not applicable" and for
 * non-finite values; text cells that a spreadsheet would run as a formula (=, +, -,
 * @, tab, CR) prefixed with a quote.
 *
 * Every text cell and the header go through csv-stringify (quoting, escaping, the
 * formula guard). Number cells never need any of that, and csv-stringify's
 * per-field work was measured at about 85% of the cost of a 30-step run, so numbers
 * are written directly, and the formatted text cells (a handful of distinct
 * optimizer and status names) are memoised.
 */
import { stringify } from 'csv-stringify/sync';
import type { AxisName, Plan, RunSpec } from './grid.js';
import { PROBLEMS } from './problems/index.js';
import type { RunResult } from './run.js';

export const STATUSES = ['ok', 'diverged', 'error'] as const;

/** Fixed columns and what they mean; axis and problem-metric columns sit between. */
export const COLUMN_DOCS = {
  run_id: 'index of the run in the expansion order (stable for a config)',
  optimizer: 'sgd, momentum, nesterov, adagrad, rmsprop or adam',
  trial:
    'random search only: the trial whose sampled values this run uses (blank for an optimizer that samples nothing)',
  seed: 'seed of the run: starting point and minibatches',
  steps: 'updates the run was asked to make',
  status: 'ok, diverged (loss or parameters became NaN or ±Inf) or error',
  final_loss: 'loss at the final parameters (blank unless ok)',
  best_loss: 'lowest loss seen, starting point included',
  diverged_at: 'updates done when the run diverged (blank unless diverged)',
  duration_ms: 'wall time of the run in its worker (varies between runs of the same config)',
  error: 'why the run failed (status error only)',
} as const;

export const CSV_OPTIONS = { escape_formulas: true, eof: true } as const;

/** Round durations to the microsecond: finer digits are timer noise. */
const DURATION_DIGITS = 3;

export interface Layout {
  readonly header: readonly string[];
  readonly metrics: readonly string[];
  /** The column that ranks runs in the summary, and which way is better. */
  readonly rank: { readonly column: string; readonly higher: boolean };
}

/** The columns of a plan's results CSV (its problem decides the metric columns). */
export function layout(plan: Plan): Layout {
  const def = PROBLEMS[plan.problem.name];
  const metrics = def.metrics(plan.problem.options);
  return {
    metrics,
    rank: def.rank?.(plan.problem.options) ?? { column: 'final_loss', higher: false },
    header: [
      'run_id',
      'optimizer',
      ...plan.columns,
      ...(plan.problem.axes ?? []).map((a) => a.name),
      ...(plan.random ? ['trial'] : []),
      'seed',
      'steps',
      'status',
      'final_loss',
      'best_loss',
      'diverged_at',
      ...metrics,
      'duration_ms',
      'error',
    ],
  };
}

/** Distinct text cells remembered; error messages beyond this are formatted afresh. */
const MEMO_LIMIT = 1024;
const memo = new Map<string, string>();

function textCell(text: string): string {
  let cell = memo.get(text);
  if (cell === undefined) {
    cell = stringify([[text]], { ...CSV_OPTIONS, eof: false });
    if (memo.size < MEMO_LIMIT) memo.set(text, cell);
  }
  return cell;
}

/** A number cell: shortest round-trip form; blank when not finite. */
function num(value: number): string {
  // String(-0) is "0": keep the sign, so that every cell reads back as the same double.
  return Number.isFinite(value) ? (value === 0 && 1 / value < 0 ? '-0' : String(value)) : '';
}

function cell(value: unknown): string {
  if (typeof value === 'number') return num(value);
  if (value === null || value === undefined) return '';
  return textCell(String(value));
}

/** One CSV record (with its line end) from cells: numbers, text, or null for blank. */
export function record(cells: readonly unknown[]): string {
  let line = cell(cells[0]);
  for (let i = 1; i < cells.length; i++) line += `,${cell(cells[i])}`;
  return `${line}\n`;
}

/** The CSV record of one run. */
/** The CSV record of one run, in `layout` order (this is the hot path of a sweep of
 * tiny runs, so the line is built directly rather than through `record`). */
export function row(plan: Plan, l: Layout, spec: RunSpec, r: RunResult, durationMs: number): string {
  let line = `${spec.id},${textCell(spec.optimizer)}`;
  for (const axis of plan.columns) {
    const v = spec.axes[axis as AxisName];
    line += v === undefined ? ',' : `,${num(v)}`;
  }
  // A problem axis's value as the config gives it: a number, a name, or JSON.
  for (const v of spec.problemValues)
    line += `,${typeof v === 'number' ? num(v) : textCell(typeof v === 'string' ? v : JSON.stringify(v))}`;
  if (plan.random) line += spec.trial === undefined ? ',' : `,${spec.trial}`;
  line += `,${spec.seed},${spec.steps},${textCell(r.status)},${num(r.finalLoss)},${num(r.bestLoss)},`;
  if (r.divergedAt >= 0) line += r.divergedAt;
  for (let k = 0; k < l.metrics.length; k++) line += `,${num(r.metrics[k] ?? NaN)}`;
  line += `,${num(Number(durationMs.toFixed(DURATION_DIGITS)))},`;
  if (r.error !== undefined) line += textCell(r.error);
  return `${line}\n`;
}

/** Columns of the loss-curve CSV (long format, one row per recorded step). */
export const CURVE_DOCS = {
  run_id: 'the run, as in the results CSV',
  step: 'updates done',
  loss: 'loss at that step (blank when non-finite)',
} as const;

export function curveHeader(trajectory: readonly string[]): string {
  return stringify([[...Object.keys(CURVE_DOCS), ...trajectory]], CSV_OPTIONS);
}

export function formatHeader(l: Layout): string {
  return stringify([l.header as string[]], CSV_OPTIONS);
}
