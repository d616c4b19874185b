/**
 * Results as data: the one module that builds, reads and slices them.
 *
 * A run's outcome is a `RunRecord`, a typed record whose status is a discriminated
 * union. Records travel in `ResultBatch`es: the records of a contiguous range of run
 * ids, held as columns of typed arrays (a batch of tiny runs is thousands of records,
 * and columns cross threads, processes and JSON as a few arrays rather than thousands
 * of objects). Executors hand batches back; the coordinator passes them on, in run
 * order, to its consumers; `recordAt` and `records` read a batch as records, and
 * `sliceBatch`, `batchOf` and `ResultsBuilder` are the only code that makes one.
 */

/** Every status a run can end in, declared once (the CSV's `status` cell). */
export const STATUSES = ['ok', 'diverged', 'error', 'pruned'] as const;
export type RunStatus = (typeof STATUSES)[number];
/** A status as a small integer (its index in STATUSES), for the status column. */
export const STATUS_CODE: Readonly<Record<RunStatus, number>> = Object.freeze(
  Object.fromEntries(STATUSES.map((s, i) => [s, i])) as Record<RunStatus, number>,
);

/** A run's loss curve: one point per recorded step. `values` is row-major,
 * `step.length` rows of `curveColumns(plan)` values each (the loss first, then the
 * traced coordinates or the problem's curve metrics). */
export interface Curve {
  readonly step: Int32Array;
  readonly values: Float64Array;
}

interface RecordBase {
  readonly runId: number;
  /** Lowest finite loss seen, starting point included; NaN if none. */
  readonly bestLoss: number;
  /** Wall time of the run where it ran; NaN when unknown (its worker died). */
  readonly durationMs: number;
  /** The problem's own result columns (`Columns.metrics` order); NaN is blank. */
  readonly metrics: Float64Array;
  /** Present when the sweep records curves. */
  readonly curve?: Curve;
}

export interface OkRecord extends RecordBase {
  readonly status: 'ok';
  /** Loss at the final parameters. */
  readonly finalLoss: number;
}
export interface DivergedRecord extends RecordBase {
  readonly status: 'diverged';
  /** Updates done when the loss or the parameters became NaN or ±Inf. */
  readonly divergedAt: number;
}
export interface ErrorRecord extends RecordBase {
  readonly status: 'error';
  /** Why: the run threw, or its worker died. */
  readonly error: string;
}
/** Stopped early by the sweep's early-stopping rule (src/early.ts), with the values
 * it had there. */
export interface PrunedRecord extends RecordBase {
  readonly status: 'pruned';
  /** Updates done when it stopped. */
  readonly prunedAt: number;
  /** Loss at that step. */
  readonly finalLoss: number;
}
export type RunRecord = OkRecord | DivergedRecord | ErrorRecord | PrunedRecord;

/** Rows of a batch already encoded by their consumer's encoder (the CSV writer's,
 * run where the runs ran: formatting is a large share of a tiny run's cost). */
export interface EncodedRows {
  /** The rows' UTF-8 bytes, back to back, each with its line end. Bytes, not a
   * string: a batch's rows are larger than V8's regular objects, and as strings they
   * would land in the coordinator's old generation, growing its heap with the sweep. */
  readonly bytes: Uint8Array;
  /** `count + 1` byte offsets: row k is `bytes[ends[k] … ends[k + 1])`. */
  readonly ends: Int32Array;
}

/** The records of runs `first … first + count − 1`, as columns. */
export interface ResultBatch {
  readonly first: number;
  readonly count: number;
  /** STATUS_CODE of each run. */
  readonly status: Uint8Array;
  /** NaN unless ok or pruned. */
  readonly finalLoss: Float64Array;
  readonly bestLoss: Float64Array;
  /** Updates done when the run stopped early (diverged or pruned); −1 otherwise. */
  readonly stoppedAt: Int32Array;
  readonly durationMs: Float64Array;
  /** `count × metricCount`, row-major. */
  readonly metrics: Float64Array;
  readonly metricCount: number;
  /** The messages of the errored runs: `[k, message]` pairs, k ascending. */
  readonly errors: readonly (readonly [number, string])[];
  /** The runs' curves: run k's points are `curves.offsets[k] … offsets[k + 1]`. */
  readonly curves?: {
    readonly width: number;
    readonly offsets: Int32Array;
    readonly step: Int32Array;
    readonly values: Float64Array;
  };
  /** Pre-encoded CSV rows, when the request asked for them. */
  readonly rows?: EncodedRows;
}

/** Run k of a batch (0 ≤ k < count) as a record. */
export function recordAt(batch: ResultBatch, k: number): RunRecord {
  const m = batch.metricCount;
  const base = {
    runId: batch.first + k,
    bestLoss: batch.bestLoss[k],
    durationMs: batch.durationMs[k],
    metrics: batch.metrics.slice(k * m, (k + 1) * m),
    ...(batch.curves && { curve: curveAt(batch.curves, k) }),
  };
  switch (STATUSES[batch.status[k]]) {
    case 'ok':
      return { ...base, status: 'ok', finalLoss: batch.finalLoss[k] };
    case 'diverged':
      return { ...base, status: 'diverged', divergedAt: batch.stoppedAt[k] };
    case 'pruned':
      return { ...base, status: 'pruned', prunedAt: batch.stoppedAt[k], finalLoss: batch.finalLoss[k] };
    default:
      return { ...base, status: 'error', error: errorAt(batch, k) };
  }
}

function curveAt(curves: NonNullable<ResultBatch['curves']>, k: number): Curve {
  const from = curves.offsets[k];
  const to = curves.offsets[k + 1];
  return { step: curves.step.slice(from, to), values: curves.values.slice(from * curves.width, to * curves.width) };
}

/** The message of errored run k ('' if none was given). */
export function errorAt(batch: ResultBatch, k: number): string {
  for (const [at, message] of batch.errors) if (at === k) return message;
  return '';
}

/** The batch's records, in run order. */
export function* records(batch: ResultBatch): Generator<RunRecord> {
  for (let k = 0; k < batch.count; k++) yield recordAt(batch, k);
}

/** The value that ranks run k: `column` is `final_loss` or one of the metrics. */
export function scoreAt(batch: ResultBatch, k: number, metric: number): number {
  return metric < 0 ? batch.finalLoss[k] : batch.metrics[k * batch.metricCount + metric];
}

/** Runs `from … to − 1` of a batch (indices within it) as a batch of their own. */
export function sliceBatch(batch: ResultBatch, from: number, to: number): ResultBatch {
  const m = batch.metricCount;
  const { curves, rows } = batch;
  return {
    first: batch.first + from,
    count: to - from,
    status: batch.status.slice(from, to),
    finalLoss: batch.finalLoss.slice(from, to),
    bestLoss: batch.bestLoss.slice(from, to),
    stoppedAt: batch.stoppedAt.slice(from, to),
    durationMs: batch.durationMs.slice(from, to),
    metrics: batch.metrics.slice(from * m, to * m),
    metricCount: m,
    errors: batch.errors.filter(([k]) => k >= from && k < to).map(([k, e]) => [k - from, e] as const),
    ...(curves && {
      curves: {
        width: curves.width,
        offsets: curves.offsets.slice(from, to + 1).map((o) => o - curves.offsets[from]),
        step: curves.step.slice(curves.offsets[from], curves.offsets[to]),
        values: curves.values.slice(curves.offsets[from] * curves.width, curves.offsets[to] * curves.width),
      },
    }),
    ...(rows && {
      rows: {
        bytes: rows.bytes.slice(rows.ends[from], rows.ends[to]),
        ends: rows.ends.slice(from, to + 1).map((o) => o - rows.ends[from]),
      },
    }),
  };
}

/**
 * A batch's curve points as they come, in typed arrays that double as they fill:
 * outside the JavaScript heap (a run with a point at every one of millions of steps
 * once ran its worker out of heap as arrays of numbers), 4 + 8·width bytes a point.
 */
class CurvePoints {
  private step = new Int32Array(1024);
  private values: Float64Array;
  /** Points kept; setting it lower drops the last ones. */
  length = 0;

  constructor(private readonly width: number) {
    this.values = new Float64Array(1024 * width);
  }

  push(step: number, values: ArrayLike<number>): void {
    if (this.length === this.step.length) {
      const step = new Int32Array(this.step.length * 2);
      step.set(this.step);
      const grown = new Float64Array(step.length * this.width);
      grown.set(this.values);
      [this.step, this.values] = [step, grown];
    }
    const at = this.length++;
    this.step[at] = step;
    for (let i = 0; i < this.width; i++) this.values[at * this.width + i] = values[i] ?? NaN;
  }

  /** The points as exact columns (copies: a view would clone its whole buffer). */
  columns(): { step: Int32Array; values: Float64Array } {
    return { step: this.step.slice(0, this.length), values: this.values.slice(0, this.length * this.width) };
  }
}

/**
 * Builds a batch run by run, in run order (the worker's side). Columns are
 * allocated once for `count` runs; curve points grow as they come.
 */
export class ResultsBuilder {
  private readonly status: Uint8Array;
  private readonly finalLoss: Float64Array;
  private readonly bestLoss: Float64Array;
  private readonly stoppedAt: Int32Array;
  private readonly durationMs: Float64Array;
  private readonly metrics: Float64Array;
  private readonly errors: [number, string][] = [];
  private readonly curve?: { offsets: Int32Array; points: CurvePoints };
  private k = 0;
  /** The columns as built so far, as a batch (runs before `added` are filled in):
   * for an encoder that formats each run's row as soon as it is added. */
  readonly partial: ResultBatch;

  constructor(
    readonly first: number,
    readonly count: number,
    readonly metricCount: number,
    /** Values per curve point (`curveColumns`), or 0 for no curves. */
    private readonly curveWidth = 0,
  ) {
    this.status = new Uint8Array(count);
    this.finalLoss = new Float64Array(count);
    this.bestLoss = new Float64Array(count);
    this.stoppedAt = new Int32Array(count);
    this.durationMs = new Float64Array(count);
    this.metrics = new Float64Array(count * metricCount);
    if (curveWidth > 0) this.curve = { offsets: new Int32Array(count + 1), points: new CurvePoints(curveWidth) };
    this.partial = {
      first,
      count,
      status: this.status,
      finalLoss: this.finalLoss,
      bestLoss: this.bestLoss,
      stoppedAt: this.stoppedAt,
      durationMs: this.durationMs,
      metrics: this.metrics,
      metricCount,
      errors: this.errors,
    };
  }

  /** Adds a curve point to the run being built (before its `add`). */
  point(step: number, values: ArrayLike<number>): void {
    this.curve!.points.push(step, values);
  }

  /** Drops the curve points of the run being built (it is re-run, or failed). */
  dropPoints(): void {
    const c = this.curve;
    if (c) c.points.length = c.offsets[this.k];
  }

  /** The next run's record (its `runId` must be the next in order). */
  add(r: RunRecord): void {
    if (r.runId !== this.first + this.k) throw new RangeError(`record ${r.runId} added as run ${this.first + this.k}`);
    if (this.curve && r.curve)
      for (let p = 0; p < r.curve.step.length; p++)
        this.point(r.curve.step[p], r.curve.values.subarray(p * this.curveWidth));
    const finalLoss = r.status === 'ok' || r.status === 'pruned' ? r.finalLoss : NaN;
    const stoppedAt = r.status === 'diverged' ? r.divergedAt : r.status === 'pruned' ? r.prunedAt : -1;
    this.addOutcome(
      r.status,
      finalLoss,
      r.bestLoss,
      stoppedAt,
      r.durationMs,
      r.metrics,
      r.status === 'error' ? r.error : undefined,
    );
  }

  /** Adds one run's columns without building a record object (the hot path). */
  addOutcome(
    status: RunStatus,
    finalLoss: number,
    bestLoss: number,
    stoppedAt: number,
    durationMs: number,
    metrics: ArrayLike<number>,
    error?: string,
  ): void {
    const k = this.k;
    this.status[k] = STATUS_CODE[status];
    this.finalLoss[k] = status === 'ok' || status === 'pruned' ? finalLoss : NaN;
    this.bestLoss[k] = bestLoss;
    this.stoppedAt[k] = status === 'diverged' || status === 'pruned' ? stoppedAt : -1;
    this.durationMs[k] = durationMs;
    for (let i = 0; i < this.metricCount; i++) this.metrics[k * this.metricCount + i] = metrics[i] ?? NaN;
    if (status === 'error') this.errors.push([k, error ?? '']);
    if (this.curve) this.curve.offsets[k + 1] = this.curve.points.length;
    this.k++;
  }

  get added(): number {
    return this.k;
  }

  build(rows?: EncodedRows): ResultBatch {
    if (this.k !== this.count) throw new RangeError(`batch built with ${this.k} of ${this.count} runs`);
    const c = this.curve;
    return {
      ...this.partial,
      ...(c && {
        curves: {
          width: this.curveWidth,
          offsets: c.offsets,
          ...c.points.columns(),
        },
      }),
      ...(rows && { rows }),
    };
  }
}

/** A batch of records given whole, in run order, from `records[0].runId` on. */
export function batchOf(list: readonly RunRecord[], metricCount: number, curveWidth = 0): ResultBatch {
  const b = new ResultsBuilder(list[0]?.runId ?? 0, list.length, metricCount, curveWidth);
  for (const r of list) b.add(r);
  return b.build();
}

/** Contiguous batches (each `first` the previous one's end) as one batch: a result
 * assembled from pieces stored by earlier requests of other boundaries. */
export function joinBatches(parts: readonly ResultBatch[]): ResultBatch {
  if (parts.length === 0) throw new RangeError('no batches to join');
  if (parts.length === 1) return parts[0];
  for (let i = 1; i < parts.length; i++)
    if (parts[i].first !== parts[i - 1].first + parts[i - 1].count)
      throw new RangeError(
        `batch at ${parts[i].first} does not follow the one ending at ${parts[i - 1].first + parts[i - 1].count}`,
      );
  const cat = <T extends Uint8Array | Float64Array | Int32Array>(pick: (b: ResultBatch) => T): T => {
    const arrays = parts.map(pick);
    const out = new (arrays[0].constructor as new (n: number) => T)(arrays.reduce((n, a) => n + a.length, 0));
    let at = 0;
    for (const a of arrays) {
      out.set(a, at);
      at += a.length;
    }
    return out;
  };
  /** Offsets (count + 1 each, from 0) joined, each part shifted by what came before. */
  const offsets = (pick: (b: ResultBatch) => Int32Array): Int32Array => {
    const out = new Int32Array(parts.reduce((n, b) => n + b.count, 0) + 1);
    let k = 0;
    let base = 0;
    for (const b of parts) {
      const o = pick(b);
      for (let i = 1; i <= b.count; i++) out[k + i] = base + o[i];
      k += b.count;
      base += o[b.count];
    }
    return out;
  };
  const head = parts[0];
  let k = 0;
  const errors: [number, string][] = [];
  for (const b of parts) {
    for (const [at, message] of b.errors) errors.push([k + at, message]);
    k += b.count;
  }
  return {
    first: head.first,
    count: k,
    status: cat((b) => b.status),
    finalLoss: cat((b) => b.finalLoss),
    bestLoss: cat((b) => b.bestLoss),
    stoppedAt: cat((b) => b.stoppedAt),
    durationMs: cat((b) => b.durationMs),
    metrics: cat((b) => b.metrics),
    metricCount: head.metricCount,
    errors,
    ...(head.curves && {
      curves: {
        width: head.curves.width,
        offsets: offsets((b) => b.curves!.offsets),
        step: cat((b) => b.curves!.step),
        values: cat((b) => b.curves!.values),
      },
    }),
    ...(head.rows && {
      rows: { bytes: cat((b) => b.rows!.bytes), ends: offsets((b) => b.rows!.ends) },
    }),
  };
}
