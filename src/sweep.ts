/**
 * The coordinator: cuts a plan into batches, hands them to an executor, and writes
 * each batch's rows in run order as soon as every earlier run is written.
 */
import type { Executor } from './executor.js';
import { optimizerAt, specAt, type Plan, type RunSpec } from './grid.js';
import type { OptimizerName } from './optimizers/index.js';
import { PROBLEMS } from './problems/index.js';
import { STATUS_CODE, type Batch, type BatchResult } from './protocol.js';
import { formatHeader, layout } from './sink.js';

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

/** The batches covering runs [from, to), in order. */
export function* batches(plan: Plan, data: unknown, size: number, from = 0, to = plan.total): Generator<Batch> {
  for (let first = from; first < to; first += size) yield { plan, data, first, count: Math.min(size, to - first) };
}

export interface OptimizerSummary {
  optimizer: OptimizerName;
  runs: number;
  ok: number;
  diverged: number;
  error: number;
  /** The ok run with the lowest final loss, if any. */
  best?: { spec: RunSpec; finalLoss: number };
}

export interface SweepSummary {
  runs: number;
  optimizers: OptimizerSummary[];
  seconds: number;
}

export interface SweepOptions {
  executor: Executor;
  /** Receives the CSV text, header first, rows in run order. */
  write: (text: string) => void | Promise<void>;
  signal?: AbortSignal;
  /** Runs per batch; default from `batchSize`. */
  batchSize?: number;
  /** Told the number of runs written so far, after each write. */
  onWritten?: (runs: number) => void;
}

/** Loads the problem's data once, for every batch to share. */
export async function loadData(plan: Plan): Promise<unknown> {
  const def = PROBLEMS[plan.problem.name];
  return def.load ? def.load(plan.problem.options) : undefined;
}

export async function runSweep(plan: Plan, options: SweepOptions): Promise<SweepSummary> {
  const started = performance.now();
  const { executor, write, signal } = options;
  const def = PROBLEMS[plan.problem.name];
  const data = await loadData(plan);
  const size = options.batchSize ?? batchSize(plan, executor.size);

  const byName = new Map<OptimizerName, OptimizerSummary & { bestId: number; bestLoss: number }>();
  for (const o of plan.optimizers)
    byName.set(o.name, { optimizer: o.name, runs: 0, ok: 0, diverged: 0, error: 0, bestId: -1, bestLoss: Infinity });
  const tally = (r: BatchResult): void => {
    for (let k = 0; k < r.count; k++) {
      const id = r.first + k;
      const s = byName.get(optimizerAt(plan, id).name)!;
      s.runs++;
      if (r.status[k] === STATUS_CODE.ok) {
        s.ok++;
        if (r.finalLoss[k] < s.bestLoss) {
          s.bestLoss = r.finalLoss[k];
          s.bestId = id;
        }
      } else if (r.status[k] === STATUS_CODE.diverged) s.diverged++;
      else s.error++;
    }
  };

  await write(formatHeader(layout(plan, def.metrics(plan.problem.options))));
  const waiting = new Map<number, BatchResult>();
  let next = 0;
  let runs = 0;
  for await (const result of executor.run(batches(plan, data, size), signal)) {
    waiting.set(result.first, result);
    for (let r = waiting.get(next); r; r = waiting.get(next)) {
      waiting.delete(next);
      await write(r.csv);
      tally(r);
      runs += r.count;
      next += r.count;
      options.onWritten?.(runs);
    }
  }

  return {
    runs,
    seconds: (performance.now() - started) / 1000,
    optimizers: [...byName.values()].map(({ bestId, bestLoss, ...s }) =>
      bestId >= 0 ? { ...s, best: { spec: specAt(plan, bestId), finalLoss: bestLoss } } : s,
    ),
  };
}
