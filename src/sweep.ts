/**
 * The coordinator: cuts a plan into batch requests, keeps the executor busy, and
 * passes each batch's records, in run order, to its consumers as soon as every
 * earlier run has been passed on. A batch whose worker dies is re-run one run at a
 * time, so that only the run that killed it is recorded as an error; `retries` gives
 * errored runs more attempts.
 */
import { ExecutorError, type Executor } from './executor.js';
import type { Plan } from './grid.js';
import { problemDef } from './problems/index.js';
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

export function batchSize(plan: Plan, threads: number, steps = plan.steps, runs = plan.total): number {
  const dim = problemDef(plan.problem).dim(plan.problem.options);
  const perRun = steps * dim + RUN_OVERHEAD;
  const byCost = Math.floor(BATCH_COST / perRun);
  const byBalance = Math.ceil(runs / (threads * MIN_BATCHES_PER_THREAD));
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

/** Runs `first … first + count − 1`. */
export interface RunRange {
  readonly first: number;
  readonly count: number;
}

/** Ascending ids as ranges of consecutive ones. */
export function rangesOf(ids: readonly number[]): RunRange[] {
  const out: RunRange[] = [];
  for (const id of ids) {
    const last = out[out.length - 1];
    if (last && last.first + last.count === id) out[out.length - 1] = { first: last.first, count: last.count + 1 };
    else out.push({ first: id, count: 1 });
  }
  return out;
}

export interface SweepOutcome {
  /** Runs given to the consumers by this call (not those already in a resumed file). */
  runs: number;
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
  /** Stops waiting for the batches running (after `signal`, when they take too long). */
  abandon?: AbortSignal;
  /** Runs per batch; default from `batchSize`. */
  batchSize?: number;
  /** The first run to do: runs before it are already done (resume). */
  from?: number;
  /** The runs to do, in this order (ranges in order, run order inside each); default:
   * `from` to the end. Early stopping gives a rung's configurations. */
  runs?: readonly RunRange[];
  /** Updates per run (a rung's); default the plan's steps. */
  budget?: number;
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
  const ranges = (options.runs ?? [{ first: from, count: plan.total - from }]).filter((r) => r.count > 0);
  const total = ranges.reduce((n, r) => n + r.count, 0);
  const budget = options.budget ?? plan.steps;
  const size = options.batchSize ?? batchSize(plan, executor.size, budget, total);
  const capacity = executor.capacity(plan);
  const curveEvery = options.curveEvery ?? 0;
  const encodeRows = consumers.some((c) => c.wantsRows);
  // Runs finished ahead of an earlier one wait in `done`: submit no run further than
  // this past the first one not yet passed on, so that memory stays bounded.
  const window = Math.max(capacity * size * 2, size * 4);
  const make = (first: number, count: number): BatchRequest =>
    request(plan, first, count, curveEvery, encodeRows, budget);

  // Two cursors over the ranges: the next run to submit, and the next to pass on.
  let freshRange = 0;
  let nextFresh = ranges[0]?.first ?? 0;
  let submitted = 0;
  let nextRange = 0;
  let next = ranges[0]?.first ?? 0;
  let passed = 0;
  const again: BatchRequest[] = [];
  const attempts = new Map<number, number>();
  const done = new Map<number, ResultBatch>(); // by first run id, waiting for its turn
  const running = new Set<Promise<void>>();
  let fatal: unknown;

  const take = (): BatchRequest | undefined => {
    const b = again.shift();
    if (b) return b;
    if (submitted >= total || submitted - passed >= window) return undefined;
    const range = ranges[freshRange];
    const count = Math.min(size, range.first + range.count - nextFresh);
    const batch = make(nextFresh, count);
    nextFresh += count;
    submitted += count;
    if (nextFresh === range.first + range.count) nextFresh = ranges[++freshRange]?.first ?? 0;
    return batch;
  };
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
      again.push(make(r.first + k, 1));
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
    // Stopped with the sweep (a library loop left early closes the executor at once):
    // not done, not failed; a resume runs it.
    if (signal?.aborted) return;
    // Which run killed the worker is unknown: run each on its own.
    if (batch.count > 1) for (let k = 0; k < batch.count; k++) again.push(make(batch.first + k, 1));
    else if (tryAgain(batch.first)) again.push(batch);
    else {
      const reason = `worker died: ${e instanceof Error ? e.message : String(e)}`;
      done.set(batch.first, failedRuns(plan, batch.first, 1, reason));
    }
  };

  const flush = async (): Promise<void> => {
    let end = -1; // of the last batch passed on
    for (let r = done.get(next); r; r = done.get(next)) {
      done.delete(next);
      for (const c of consumers) await c.accept(r);
      next += r.count;
      end = next;
      passed += r.count;
      const range = ranges[nextRange];
      if (next === range.first + range.count) next = ranges[++nextRange]?.first ?? 0;
    }
    if (end >= 0) executor.passed?.(plan, end);
  };

  // Abandoning stops the wait for the batches still running; their records, if they
  // ever come, are not passed on (their runs stay to be done).
  const abandoned = new Promise<void>((resolve) => {
    if (options.abandon?.aborted) resolve();
    options.abandon?.addEventListener('abort', () => resolve(), { once: true });
  });
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
    if (running.size === 0 || options.abandon?.aborted) break;
    await Promise.race([...running, abandoned]);
    await flush();
  }
  if (fatal !== undefined) throw fatal;

  return { runs: passed, interrupted: passed < total, seconds: (performance.now() - started) / 1000 };
}
