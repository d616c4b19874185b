/**
 * The coordinator: cuts a plan into batches, keeps the executor busy, and writes
 * each batch's rows in run order as soon as every earlier run is written. A batch
 * whose worker dies is re-run one run at a time, so that only the run that killed
 * it is recorded as an error; `retries` gives errored runs more attempts.
 */
import { ExecutorError, type Executor } from './executor.js';
import { specAt, type Plan, type RunSpec } from './grid.js';
import type { OptimizerName } from './optimizers/index.js';
import { PROBLEMS } from './problems/index.js';
import { STATUS_CODE, type Batch, type BatchResult } from './protocol.js';
import { layout, row, type Layout } from './sink.js';

/** A batch should take a few milliseconds: long enough to amortise the tens of
 * microseconds a task costs, short enough to balance the threads. Cost is counted in
 * parameter-updates plus a fixed per-run overhead (setting up, formatting the row). */
const BATCH_COST = 400_000;
const RUN_OVERHEAD = 300;
const MAX_BATCH_RUNS = 4096;
/** Batches per thread at least, when there are enough runs: keeps threads balanced. */
const MIN_BATCHES_PER_THREAD = 4;

export function batchSize(plan: Plan, threads: number): number {
  const dim = PROBLEMS[plan.problem.name].dim(plan.problem.options);
  const perRun = plan.steps * dim + RUN_OVERHEAD;
  const byCost = Math.floor(BATCH_COST / perRun);
  const byBalance = Math.ceil(plan.total / (threads * MIN_BATCHES_PER_THREAD));
  return Math.max(1, Math.min(byCost, byBalance, MAX_BATCH_RUNS));
}

export interface OptimizerSummary {
  optimizer: OptimizerName;
  runs: number;
  ok: number;
  diverged: number;
  error: number;
  /** The ok run best in the ranking column (`Layout.rank`: the lowest final loss,
   * unless the problem ranks by another column), with its value there. */
  best?: { spec: RunSpec; value: number };
}

export interface SweepSummary {
  /** Runs written by this call (not counting those already in a resumed file). */
  runs: number;
  /** Runs written in all, resumed ones included. */
  written: number;
  /** Whether the sweep stopped early (signal) with runs left to do. */
  interrupted: boolean;
  optimizers: OptimizerSummary[];
  seconds: number;
}

export interface SweepOptions {
  executor: Executor;
  /** Receives CSV rows, in run order (the header is the caller's). */
  write: (text: string) => void | Promise<void>;
  /** Stops submitting batches; those running finish and are written. */
  signal?: AbortSignal;
  /** Runs per batch; default from `batchSize`. */
  batchSize?: number;
  /** The first run to do: runs before it are already written (resume). */
  from?: number;
  /** The rows already written (resume), as parsed from the CSV: counted in the summary. */
  prior?: readonly (readonly string[])[];
  /** Extra attempts for a run that ends in error. */
  retries?: number;
  /** Told the number of runs written so far (resumed ones included), after each write. */
  onWritten?: (runs: number) => void;
  /** Loss curves: recorded every `every` steps, written (in run order, each batch's
   * before its results rows, so the curves file never lags the CSV) to `write`. */
  curves?: { every: number; write: (text: string) => void | Promise<void> };
}

/** Loads the problem's data once, for every batch to share. */
export async function loadData(plan: Plan): Promise<unknown> {
  const def = PROBLEMS[plan.problem.name];
  return def.load ? def.load(plan.problem.options) : undefined;
}

/** A batch result for runs whose worker died: status error, with the reason. */
function failedRun(plan: Plan, l: Layout, id: number, reason: string): BatchResult {
  const spec = specAt(plan, id);
  const r = { status: 'error' as const, finalLoss: NaN, bestLoss: NaN, divergedAt: -1, metrics: [], error: reason };
  return {
    first: id,
    count: 1,
    status: Uint8Array.of(STATUS_CODE.error),
    finalLoss: Float64Array.of(NaN),
    bestLoss: Float64Array.of(NaN),
    divergedAt: Int32Array.of(-1),
    durationMs: Float64Array.of(NaN),
    score: Float64Array.of(NaN),
    csv: row(plan, l, spec, r, NaN),
    curves: '',
  };
}

/** Rows read back from a CSV, as a batch result (for the summary). */
function parsedRows(l: Layout, rows: readonly (readonly string[])[]): BatchResult {
  const [status, finalLoss, bestLoss, divergedAt, durationMs, score] = [
    'status',
    'final_loss',
    'best_loss',
    'diverged_at',
    'duration_ms',
    l.rank.column,
  ].map((name) => l.header.indexOf(name));
  const num = (cell: string): number => (cell === '' ? NaN : Number(cell));
  return {
    first: 0,
    count: rows.length,
    status: Uint8Array.from(rows, (r) => STATUS_CODE[r[status] as keyof typeof STATUS_CODE] ?? STATUS_CODE.error),
    finalLoss: Float64Array.from(rows, (r) => num(r[finalLoss])),
    bestLoss: Float64Array.from(rows, (r) => num(r[bestLoss])),
    divergedAt: Int32Array.from(rows, (r) => (r[divergedAt] === '' ? -1 : Number(r[divergedAt]))),
    durationMs: Float64Array.from(rows, (r) => num(r[durationMs])),
    score: Float64Array.from(rows, (r) => num(r[score])),
    csv: '',
    curves: '',
  };
}

/** One run's slice of a batch result (its CSV line is line `k`). */
function slice(r: BatchResult, k: number, line: string): BatchResult {
  const id = `${r.first + k},`;
  return {
    first: r.first + k,
    count: 1,
    status: r.status.slice(k, k + 1),
    finalLoss: r.finalLoss.slice(k, k + 1),
    bestLoss: r.bestLoss.slice(k, k + 1),
    divergedAt: r.divergedAt.slice(k, k + 1),
    durationMs: r.durationMs.slice(k, k + 1),
    score: r.score.slice(k, k + 1),
    csv: `${line}\n`,
    curves: r.curves
      .split('\n')
      .filter((l) => l.startsWith(id))
      .map((l) => `${l}\n`)
      .join(''),
  };
}

export async function runSweep(plan: Plan, options: SweepOptions): Promise<SweepSummary> {
  const started = performance.now();
  const { executor, write, signal } = options;
  const retries = options.retries ?? 0;
  const from = options.from ?? 0;
  const l = layout(plan);
  const data = await loadData(plan);
  const size = options.batchSize ?? batchSize(plan, executor.size);
  const capacity = executor.capacity(plan);
  const curveEvery = options.curves?.every ?? 0;

  // Ranked by `sign·score`, lowest first: sign −1 turns "higher is better" around.
  const sign = l.rank.higher ? -1 : 1;
  const byName = new Map<OptimizerName, OptimizerSummary & { bestId: number; bestScore: number }>();
  for (const o of plan.optimizers)
    byName.set(o.name, { optimizer: o.name, runs: 0, ok: 0, diverged: 0, error: 0, bestId: -1, bestScore: Infinity });
  const tally = (r: BatchResult): void => {
    // Runs of one optimizer are contiguous: walk the optimizers the batch spans.
    for (const o of plan.optimizers) {
      const lo = Math.max(o.first, r.first);
      const hi = Math.min(o.first + o.count, r.first + r.count);
      if (lo >= hi) continue;
      const s = byName.get(o.name)!;
      s.runs += hi - lo;
      for (let id = lo; id < hi; id++) {
        const k = id - r.first;
        if (r.status[k] === STATUS_CODE.ok) {
          s.ok++;
          const scored = sign * r.score[k];
          if (scored < s.bestScore) {
            s.bestScore = scored;
            s.bestId = id;
          }
        } else if (r.status[k] === STATUS_CODE.diverged) s.diverged++;
        else s.error++;
      }
    }
  };

  if (options.prior?.length) tally(parsedRows(l, options.prior));

  let nextFresh = from;
  const again: Batch[] = [];
  const attempts = new Map<number, number>();
  const done = new Map<number, BatchResult>(); // by first run id, waiting for its turn
  const running = new Set<Promise<void>>();
  let fatal: unknown;

  const take = (): Batch | undefined => {
    const b = again.shift();
    if (b) return b;
    if (nextFresh >= plan.total) return undefined;
    const count = Math.min(size, plan.total - nextFresh);
    const batch = { plan, data, first: nextFresh, count, curveEvery };
    nextFresh += count;
    return batch;
  };
  const single = (id: number): Batch => ({ plan, data, first: id, count: 1, curveEvery });
  const tryAgain = (id: number): boolean => {
    const n = (attempts.get(id) ?? 0) + 1;
    attempts.set(id, n);
    return n <= retries;
  };

  const onResult = (r: BatchResult): void => {
    let retry: number[] = [];
    if (retries > 0)
      for (let k = 0; k < r.count; k++) if (r.status[k] === STATUS_CODE.error && tryAgain(r.first + k)) retry.push(k);
    if (retry.length === 0) {
      done.set(r.first, r);
      return;
    }
    const lines = r.csv.split('\n');
    for (let k = 0; k < r.count; k++) {
      if (retry[0] === k) {
        retry = retry.slice(1);
        again.push(single(r.first + k));
      } else done.set(r.first + k, slice(r, k, lines[k]));
    }
  };
  const onFailure = (batch: Batch, e: unknown): void => {
    if (e instanceof ExecutorError) {
      fatal ??= e;
      return;
    }
    // Which run killed the worker is unknown: run each on its own.
    if (batch.count > 1) for (let k = 0; k < batch.count; k++) again.push(single(batch.first + k));
    else if (tryAgain(batch.first)) again.push(batch);
    else {
      const reason = `worker died: ${e instanceof Error ? e.message : String(e)}`;
      done.set(batch.first, failedRun(plan, l, batch.first, reason));
    }
  };

  let next = from;
  const flush = async (): Promise<void> => {
    for (let r = done.get(next); r; r = done.get(next)) {
      done.delete(next);
      if (options.curves && r.curves) await options.curves.write(r.curves);
      await write(r.csv);
      tally(r);
      next += r.count;
      options.onWritten?.(next);
    }
  };

  for (;;) {
    while (running.size < capacity && !signal?.aborted && fatal === undefined) {
      const batch = take();
      if (!batch) break;
      const task: Promise<void> = executor
        .execute(batch)
        .then(onResult, (e: unknown) => onFailure(batch, e))
        .finally(() => running.delete(task));
      running.add(task);
    }
    if (running.size === 0) break;
    await Promise.race(running);
    await flush();
  }
  if (fatal !== undefined) throw fatal;

  return {
    runs: next - from,
    written: next,
    interrupted: next < plan.total,
    seconds: (performance.now() - started) / 1000,
    optimizers: [...byName.values()].map(({ bestId, bestScore, ...s }) =>
      bestId >= 0 ? { ...s, best: { spec: specAt(plan, bestId), value: sign * bestScore } } : s,
    ),
  };
}
