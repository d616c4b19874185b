/**
 * The CSV: its columns are declared here once, with their meaning (the README's
 * column table says the same), and so is its encoding. RFC 4180; numbers in shortest
 * round-trip form (JavaScript's own number-to-string, no locale); blank for "not
 * applicable" and for non-finite values; text cells that a spreadsheet would run as a
 * formula (=, +, -, @, tab, CR) prefixed with a quote.
 *
 * Every text cell and the header go through csv-stringify (quoting, escaping, the
 * formula guard). Number cells never need any of that, and csv-stringify's
 * per-field work was measured at about 85% of the cost of a 30-step run, so numbers
 * are written directly, and the formatted text cells (a handful of distinct
 * optimizer and status names) are memoised.
 *
 * `RowEncoder` turns runs into rows. The CSV writer owns it; a worker may run it
 * where the runs ran (`BatchRequest.encodeRows`), since formatting is a large share
 * of a tiny run's cost, and hands the rows back beside the records (`EncodedRows`).
 */
import { stringify } from 'csv-stringify/sync';
import { specAt, type AxisName, type Plan, type RunSpec } from './grid.js';
import { problemDef } from './problems/index.js';
import type { OptimizerName } from './optimizers/index.js';
import {
  STATUSES,
  STATUS_CODE,
  errorAt,
  type EncodedRows,
  type ResultBatch,
  type RunRecord,
  type RunStatus,
} from './results.js';

/** Fixed columns and what they mean; axis and problem-metric columns sit between. */
export const COLUMN_DOCS = {
  run_id: 'index of the run in the expansion order (stable for a config)',
  optimizer: 'sgd, momentum, nesterov, adagrad, rmsprop or adam',
  trial:
    'random search only: the trial whose sampled values this run uses (blank for an optimizer that samples nothing)',
  seed: 'seed of the run: starting point and minibatches',
  steps: 'updates the run was asked to make',
  status:
    'ok, diverged (loss or parameters became NaN or ±Inf, or the loss rose above divergence_factor × max(|starting loss|, 1)), error, or pruned (stopped early)',
  final_loss: 'loss at the final parameters (blank unless ok; for a pruned run, where it stopped)',
  best_loss: 'lowest loss seen, starting point included',
  diverged_at: 'updates done when the run diverged (blank unless diverged)',
  pruned_at: 'early stopping only: updates done when the run was stopped (blank unless pruned)',
  duration_ms: 'wall time of the run in its worker (varies between runs of the same config)',
  error: 'why the run failed (status error only)',
} as const;

export const CSV_OPTIONS = { escape_formulas: true, eof: true } as const;

/** Round durations to the microsecond: finer digits are timer noise. */
const DURATION_DIGITS = 3;

/** The columns of a plan's results CSV. */
export interface Columns {
  readonly header: readonly string[];
  /** The problem's own result columns (a record's `metrics`, in this order). */
  readonly metrics: readonly string[];
  /** The column that ranks runs in the summary, and which way is better. */
  readonly rank: { readonly column: string; readonly higher: boolean };
}

/** The columns of a plan's results CSV (its problem decides the metric columns). */
export function columnsOf(plan: Plan): Columns {
  const def = problemDef(plan.problem);
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
      ...(plan.earlyStopping ? ['pruned_at'] : []),
      ...metrics,
      'duration_ms',
      'error',
    ],
  };
}

/**
 * A run as an object keyed by the CSV's columns, in their order: numbers as numbers,
 * blanks as undefined, `optimizer`, `status` and `error` as text. A library user's
 * record, from a live sweep or from a CSV read back (`readSweep`): the one place
 * that turns a typed record and its spec into the spreadsheet's vocabulary.
 */
export interface SweepRecord {
  readonly run_id: number;
  readonly optimizer: OptimizerName;
  readonly lr?: number;
  readonly momentum?: number;
  readonly rho?: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
  readonly weight_decay?: number;
  readonly trial?: number;
  readonly seed: number;
  readonly steps: number;
  readonly status: RunStatus;
  readonly final_loss?: number;
  readonly best_loss?: number;
  readonly diverged_at?: number;
  readonly pruned_at?: number;
  readonly duration_ms?: number;
  readonly error?: string;
  /** The problem's swept options (a number, a name, or JSON text, as in the CSV) and
   * its own columns: x, y, distance; train_loss, train_acc, test_acc; x0, x1, … */
  readonly [column: string]: number | string | undefined;
}

const finite = (v: number): number | undefined => (Number.isFinite(v) ? v : undefined);

/** `r` (a run of `plan`) as its CSV row, an object: the same cells `RowEncoder.row`
 * writes, read back as `readSweep` reads them. */
export function recordRow(plan: Plan, r: RunRecord, columns: Columns = columnsOf(plan)): SweepRecord {
  const spec = specAt(plan, r.runId);
  const row: Record<string, number | string | undefined> = { run_id: r.runId, optimizer: spec.optimizer };
  for (const axis of plan.columns) row[axis] = spec.axes[axis];
  // A problem axis's value as its cell says it: a number, a name, or JSON text.
  (plan.problem.axes ?? []).forEach((a, k) => {
    const v = spec.problemValues[k];
    row[a.name] = typeof v === 'number' || typeof v === 'string' ? v : JSON.stringify(v);
  });
  if (plan.random) row.trial = spec.trial;
  row.seed = spec.seed;
  row.steps = spec.steps;
  row.status = r.status;
  row.final_loss = r.status === 'ok' || r.status === 'pruned' ? finite(r.finalLoss) : undefined;
  row.best_loss = finite(r.bestLoss);
  row.diverged_at = r.status === 'diverged' ? r.divergedAt : undefined;
  if (plan.earlyStopping) row.pruned_at = r.status === 'pruned' ? r.prunedAt : undefined;
  columns.metrics.forEach((name, i) => (row[name] = finite(r.metrics[i])));
  row.duration_ms = finite(Number(r.durationMs.toFixed(DURATION_DIGITS)));
  row.error = r.status === 'error' && r.error !== '' ? r.error : undefined;
  return row as SweepRecord;
}

/** Index of the ranking column among the metrics, or −1 for final_loss. */
export const rankMetric = (c: Columns): number => c.metrics.indexOf(c.rank.column);

/** Columns of the loss-curve CSV (long format, one row per recorded step). */
export const CURVE_DOCS = {
  run_id: 'the run, as in the results CSV',
  step: 'updates done',
  loss: 'loss at that step (blank when non-finite)',
} as const;

/** The values of a curve point (a `Curve`'s row): the loss, then the traced
 * coordinates of problems small enough to trace. */
export function curveColumns(plan: Plan): readonly string[] {
  return ['loss', ...(problemDef(plan.problem).trajectory?.(plan.problem.options) ?? [])];
}

/** Distinct text cells remembered; error messages beyond this are formatted afresh.
 * (A module-level cache: the few optimizer and status names recur in every row.) */
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

/** One CSV line (with its line end) from cells: numbers, text, or null for blank. */
export function csvLine(cells: readonly unknown[]): string {
  let line = cell(cells[0]);
  for (let i = 1; i < cells.length; i++) line += `,${cell(cells[i])}`;
  return `${line}\n`;
}

export function headerLine(c: Columns): string {
  return stringify([c.header as string[]], CSV_OPTIONS);
}

export function curveHeaderLine(plan: Plan): string {
  const trace = curveColumns(plan).slice(1);
  return stringify([[...Object.keys(CURVE_DOCS), ...trace]], CSV_OPTIONS);
}

/** Encodes runs as CSV rows, in `columnsOf(plan)` order. */
export class RowEncoder {
  readonly columns: Columns;

  constructor(readonly plan: Plan) {
    this.columns = columnsOf(plan);
  }

  /** The row of run k of `batch`, whose spec is `spec` (this is the hot path of a
   * sweep of tiny runs, so the line is built directly rather than through `csvLine`). */
  row(spec: RunSpec, batch: ResultBatch, k: number, error?: string): string {
    const { plan } = this;
    let line = `${spec.id},${textCell(spec.optimizer)}`;
    for (const axis of plan.columns) {
      const v = spec.axes[axis as AxisName];
      line += v === undefined ? ',' : `,${num(v)}`;
    }
    // A problem axis's value as the config gives it: a number, a name, or JSON.
    for (const v of spec.problemValues)
      line += `,${typeof v === 'number' ? num(v) : textCell(typeof v === 'string' ? v : JSON.stringify(v))}`;
    if (plan.random) line += spec.trial === undefined ? ',' : `,${spec.trial}`;
    const status = STATUSES[batch.status[k]];
    line += `,${spec.seed},${spec.steps},${textCell(status)},${num(batch.finalLoss[k])},${num(batch.bestLoss[k])},`;
    if (status === 'diverged') line += batch.stoppedAt[k];
    if (plan.earlyStopping) line += status === 'pruned' ? `,${batch.stoppedAt[k]}` : ',';
    const m = batch.metricCount;
    for (let i = k * m; i < (k + 1) * m; i++) line += `,${num(batch.metrics[i])}`;
    line += `,${num(Number(batch.durationMs[k].toFixed(DURATION_DIGITS)))},`;
    if (status === 'error') line += textCell(error ?? errorAt(batch, k));
    return `${line}\n`;
  }

  /** Every row of a batch. */
  encode(batch: ResultBatch): EncodedRows {
    const rows = new RowBuffer(batch.count);
    for (let k = 0; k < batch.count; k++)
      rows.push(this.row(specAt(this.plan, batch.first + k), batch, k), batch.status[k] !== STATUS_CODE.error);
    return rows.done();
  }

  /** The batch's rows: those encoded where it ran, or encoded here. */
  bytes(batch: ResultBatch): Uint8Array {
    return (batch.rows ?? this.encode(batch)).bytes;
  }
}

/** Rows gathered one by one into `EncodedRows`, each written straight into a byte
 * buffer (cheaper, measured, than joining the rows and encoding the whole). */
export class RowBuffer {
  private bytes: Buffer;
  private at = 0;
  private readonly ends: Int32Array;
  private k = 0;

  constructor(count: number) {
    this.ends = new Int32Array(count + 1);
    this.bytes = Buffer.allocUnsafe(Math.max(1024, count * ROW_BYTES_GUESS));
  }

  /** Adds a row; `ascii` promises it holds no character beyond U+007F (numbers and
   * names: every row but one with an error message), which is written byte for byte. */
  push(row: string, ascii = true): void {
    // Room for the worst case: three UTF-8 bytes per UTF-16 unit.
    if (this.bytes.length - this.at < row.length * 3) {
      const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.at + row.length * 3));
      this.bytes.copy(grown, 0, 0, this.at);
      this.bytes = grown;
    }
    this.at += this.bytes.write(row, this.at, ascii ? 'latin1' : 'utf8');
    this.ends[++this.k] = this.at;
  }

  done(): EncodedRows {
    return { bytes: new Uint8Array(this.bytes.buffer, this.bytes.byteOffset, this.at), ends: this.ends };
  }
}

/** A row's bytes, roughly: the first guess of a batch's buffer. */
const ROW_BYTES_GUESS = 160;

/** Characters of curve rows formatted at a time: a run's curve can be millions of
 * rows, more than a string can hold. */
const CURVE_CHUNK_CHARS = 1 << 20;

/** The curve rows of a batch (`run_id, step, loss, <trajectory>`), in run order, as
 * text of whole lines, at most about CURVE_CHUNK_CHARS at a time. */
export function* curveText(batch: ResultBatch): Generator<string> {
  const c = batch.curves;
  if (!c) return;
  let text = '';
  for (let k = 0; k < batch.count; k++) {
    const id = batch.first + k;
    for (let p = c.offsets[k]; p < c.offsets[k + 1]; p++) {
      let line = `${id},${c.step[p]}`;
      for (let i = p * c.width; i < (p + 1) * c.width; i++) line += `,${num(c.values[i])}`;
      text += `${line}\n`;
      if (text.length >= CURVE_CHUNK_CHARS) {
        yield text;
        text = '';
      }
    }
  }
  if (text) yield text;
}

/** The consumer that writes a sweep's rows, in run order, as UTF-8 bytes to `write`
 * (a file, a pipe); the workers encode them (`wantsRows`). */
export class RowWriter {
  readonly wantsRows = true;
  readonly encoder: RowEncoder;

  constructor(
    plan: Plan,
    private readonly write: (bytes: Uint8Array) => void | Promise<void>,
  ) {
    this.encoder = new RowEncoder(plan);
  }

  accept(batch: ResultBatch): void | Promise<void> {
    return this.write(this.encoder.bytes(batch));
  }
}
