/**
 * The coordinator: cuts a plan into batch requests, keeps the executor busy, and
 * passes each batch's records, in run order, to its consumers as soon as every
 * earlier run has been passed on. A batch whose worker dies is re-run one run at a
 * time, so that only the run that killed it is recorded as an error; `retries` gives
 * errored runs more attempts.
 */
import { ExecutorError, type Executor } from './executor.js';
import type { Plan } from './grid.js';
import { PROBLEMS } from './problems/index.js';
import { request, type BatchRequest } from './protocol.js';
import { STATUS_CODE, batchOf, sliceBatch, type ResultBatch } from './results.js';
import { columnsOf } from './csv.js';

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

/** Where records go: the CSV and curves writers, the printed summary, the
 * aggregates, a library user's loop. */
export interface Consumer {
  /** The next runs' records, in run order (`batch.first` is the first run not yet
   * given): every run exactly once. */
  accept(batch: ResultBatch): void | Promise<void>;
  /** Whether the workers should encode CSV rows for this consumer (`ResultBatch.rows`). */
  readonly wantsRows?: boolean;
}

export interface SweepOutcome {
  /** Runs given to the consumers by this call (not those already in a resumed file). */
  runs: number;
  /** Runs done in all, resumed ones included: the next run is this one. */
  written: number;
  /** Whether the sweep stopped early (signal) with runs left to do. */
  interrupted: boolean;
  seconds: number;
}

export interface SweepOptions {
  executor: Executor;
  /** Get every record, in run order, in this order among themselves (the curves
   * writer before the CSV writer: the curves file never lags the CSV). */
  consumers: readonly Consumer[];
  /** Stops submitting batches; those running finish and are passed on. */
  signal?: AbortSignal;
  /** Runs per batch; default from `batchSize`. */
  batchSize?: number;
  /** The first run to do: runs before it are already done (resume). */
  from?: number;
  /** Extra attempts for a run that ends in error. */
  retries?: number;
  /** Record loss curves every this many steps; 0 (default) for none. */
  curveEvery?: number;
}

/** Records for runs whose worker died: status error, with the reason. */
function failedRuns(plan: Plan, first: number, count: number, reason: string): ResultBatch {
  const metrics = new Float64Array(columnsOf(plan).metrics.length).fill(NaN);
  return batchOf(
    Array.from({ length: count }, (_, k) => ({
      runId: first + k,
      status: 'error' as const,
      error: reason,
      bestLoss: NaN,
      durationMs: NaN,
      metrics,
    })),
    metrics.length,
  );
}

export async function runSweep(plan: Plan, options: SweepOptions): Promise<SweepOutcome> {
  const started = performance.now();
  const { executor, consumers, signal } = options;
  const retries = options.retries ?? 0;
  const from = options.from ?? 0;
  const size = options.batchSize ?? batchSize(plan, executor.size);
  const capacity = executor.capacity(plan);
  const curveEvery = options.curveEvery ?? 0;
  const encodeRows = consumers.some((c) => c.wantsRows);
  // Runs finished ahead of an earlier one wait in `done`: submit no run further than
  // this past the first one not yet passed on, so that memory stays bounded.
  const window = Math.max(capacity * size * 2, size * 4);

  let nextFresh = from;
  const again: BatchRequest[] = [];
  const attempts = new Map<number, number>();
  const done = new Map<number, ResultBatch>(); // by first run id, waiting for its turn
  const running = new Set<Promise<void>>();
  let fatal: unknown;
  let next = from;

  const take = (): BatchRequest | undefined => {
    const b = again.shift();
    if (b) return b;
    if (nextFresh >= plan.total || nextFresh - next >= window) return undefined;
    const count = Math.min(size, plan.total - nextFresh);
    const batch = request(plan, nextFresh, count, curveEvery, encodeRows);
    nextFresh += count;
    return batch;
  };
  const single = (id: number): BatchRequest => request(plan, id, 1, curveEvery, encodeRows);
  const tryAgain = (id: number): boolean => {
    const n = (attempts.get(id) ?? 0) + 1;
    attempts.set(id, n);
    return n <= retries;
  };

  const onResult = (r: ResultBatch): void => {
    let kept = 0; // runs before this are settled: passed on whole, in slices
    for (let k = 0; retries > 0 && k < r.count; k++) {
      if (r.status[k] !== STATUS_CODE.error || !tryAgain(r.first + k)) continue;
      if (k > kept) done.set(r.first + kept, sliceBatch(r, kept, k));
      again.push(single(r.first + k));
      kept = k + 1;
    }
    if (kept === 0) done.set(r.first, r);
    else if (kept < r.count) done.set(r.first + kept, sliceBatch(r, kept, r.count));
  };
  const onFailure = (batch: BatchRequest, e: unknown): void => {
    if (e instanceof ExecutorError) {
      fatal ??= e;
      return;
    }
    // Which run killed the worker is unknown: run each on its own.
    if (batch.count > 1) for (let k = 0; k < batch.count; k++) again.push(single(batch.first + k));
    else if (tryAgain(batch.first)) again.push(batch);
    else {
      const reason = `worker died: ${e instanceof Error ? e.message : String(e)}`;
      done.set(batch.first, failedRuns(plan, batch.first, 1, reason));
    }
  };

  const flush = async (): Promise<void> => {
    for (let r = done.get(next); r; r = done.get(next)) {
      done.delete(next);
      for (const c of consumers) await c.accept(r);
      next += r.count;
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
  };
}
