/**
 * Early stopping that does not depend on timing: every decision is taken at a
 * synchronous rung, over every configuration that reached it, so the same config
 * gives the same CSV on 1 worker, 2, or a fleet.
 *
 * A **configuration** is a setting of every axis but the seed: runs `c·S … c·S + S − 1`
 * for S seeds (seeds vary fastest). Its value at a rung is the mean, over its seeds, of
 * the problem's ranking value there (the loss, or for mnist-mlp the held-out
 * accuracy, evaluated at that step as the book evaluates per epoch); a non-finite
 * mean is worst; ties go to the lower run id. Its seeds go on or stop together.
 *
 * **Levels** are the budgets at which values are taken: the rungs, then `steps`.
 * - successive-halving: rungs at `min_steps · reduction^k` below `steps`; at each one
 *   the best ⌈n / reduction⌉ configurations go on.
 * - hyperband: the same rungs; configurations are dealt to brackets s = K … 0 (K rungs)
 *   in proportion to Hyperband's ⌈(K + 1)/(s + 1) · reduction^s⌉ by a smooth weighted
 *   round robin in run order; bracket s starts at rung K − s and halves as above.
 * - median: checkpoints at `warmup_steps + k · every` below `steps`; a configuration
 *   stops where its value is worse than the median of its cohort: every configuration
 *   still running at that checkpoint (all optimizers together, not the ones that
 *   happen to have finished first).
 *
 * A run at a rung is run from its start to that step (runs are deterministic, so a
 * survivor's rerun retraces the same path and its final row equals an uninterrupted
 * run's): no state is kept between rungs, so any executor, local or remote, serves.
 * Output order: after each rung, the runs it stopped (run order); then the runs that
 * finished (run order). A journal beside the CSV records every rung's records as they
 * come, so that an interrupted sweep resumes without redoing a rung.
 */
import { columnsOf, curveColumns, rankMetric } from './csv.js';
import type { EarlyStopping, Plan } from './grid.js';
import { batchOf, records, type ResultBatch, type RunRecord } from './results.js';
import { rangesOf, runSweep, type Consumer, type SweepOptions } from './sweep.js';
import { UsageError } from './errors.js';

/** The budgets at which values are taken: the rungs, ascending, then `steps`. */
export function levels(e: EarlyStopping, steps: number): number[] {
  const out: number[] = [];
  if (e.method === 'median') for (let b = e.warmupSteps; b < steps; b += e.every) out.push(b);
  else for (let b = e.minSteps; b < steps; b *= e.reduction) out.push(b);
  out.push(steps);
  return out;
}

/** The bracket (index into `brackets`) of each configuration, and each bracket's first
 * level. Successive halving and median have one bracket starting at level 0. */
export function brackets(e: EarlyStopping, configs: number, rungs: number): { of: Int32Array; start: number[] } {
  const of = new Int32Array(configs);
  if (e.method !== 'hyperband' || rungs === 0) return { of, start: [0] };
  // Bracket b = 0 … K is Hyperband's s = K − b: the most aggressive first.
  const K = rungs;
  const weights = Array.from({ length: K + 1 }, (_, b) => Math.ceil(((K + 1) / (K - b + 1)) * e.reduction ** (K - b)));
  const sum = weights.reduce((a, w) => a + w, 0);
  const current = new Array<number>(K + 1).fill(0);
  for (let c = 0; c < configs; c++) {
    let best = 0;
    for (let b = 0; b <= K; b++) {
      current[b] += weights[b];
      if (current[b] > current[best]) best = b;
    }
    current[best] -= sum;
    of[c] = best;
  }
  return { of, start: weights.map((_, b) => b) };
}

/** The configurations that stop at a rung, given each one's value (lower is better;
 * NaN worst) in configuration order. */
export function stopping(e: EarlyStopping, ids: readonly number[], values: readonly number[]): Set<number> {
  const v = values.map((x) => (Number.isFinite(x) ? x : Infinity));
  const stop = new Set<number>();
  if (e.method === 'median') {
    const sorted = [...v].sort((a, b) => a - b);
    const n = sorted.length;
    const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    ids.forEach((id, i) => {
      if (v[i] === Infinity || v[i] > median) stop.add(id);
    });
    return stop;
  }
  const order = ids.map((_, i) => i).sort((a, b) => v[a] - v[b] || ids[a] - ids[b]);
  const keep = Math.ceil(ids.length / e.reduction);
  for (const i of order.slice(keep)) stop.add(ids[i]);
  return stop;
}

/** A stopped run's record: pruned where it stopped, unless it had already diverged or
 * failed (those are final). */
function pruned(r: RunRecord, at: number): RunRecord {
  return r.status === 'ok' ? { ...r, status: 'pruned', prunedAt: at, finalLoss: r.finalLoss } : r;
}

/** Records in order, as batches of consecutive ids. */
function batchesOf(list: readonly RunRecord[], metrics: number, width: number): ResultBatch[] {
  const out: ResultBatch[] = [];
  let from = 0;
  for (let i = 1; i <= list.length; i++)
    if (i === list.length || list[i].runId !== list[i - 1].runId + 1) {
      out.push(batchOf(list.slice(from, i), metrics, width));
      from = i;
    }
  return out;
}

export interface EarlyOptions extends Omit<SweepOptions, 'runs' | 'budget' | 'from'> {
  /** Receives every rung's records as they come (the journal). */
  journal: Consumer;
  /** The rung records already journaled (resume), in journal order. */
  journaled?: readonly RunRecord[];
  /** The ids already in the CSV (resume), in its order. */
  written?: readonly number[];
}

export interface EarlyOutcome {
  /** Runs given to the consumers by this call. */
  runs: number;
  interrupted: boolean;
  seconds: number;
  /** Updates done by this call, reruns included. */
  updates: number;
}

/** The whole sweep under early stopping; `consumers` get every run once, in the
 * output order above. */
export async function runEarlyStopping(plan: Plan, options: EarlyOptions): Promise<EarlyOutcome> {
  const started = performance.now();
  const e = plan.earlyStopping;
  if (!e) throw new RangeError('runEarlyStopping: the plan has no early_stopping');
  const columns = columnsOf(plan);
  const metric = rankMetric(columns);
  const sign = columns.rank.higher ? -1 : 1;
  const width = options.curveEvery ? curveColumns(plan).length : 0;
  const seeds = plan.seeds.length;
  const budgets = levels(e, plan.steps);
  const rungs = budgets.length - 1;
  const configs = plan.total / seeds;
  const { of, start } = brackets(e, configs, rungs);
  const active = new Set<number>(Array.from({ length: configs }, (_, c) => c));
  const journaled = options.journaled ?? [];
  const written = options.written ?? [];
  let journalAt = 0;
  let outputAt = 0;
  let runs = 0;
  let updates = 0;

  const runsOf = (level: number): number[] => {
    const ids: number[] = [];
    for (const c of active) if (start[of[c]] <= level) for (let s = 0; s < seeds; s++) ids.push(c * seeds + s);
    return ids.sort((a, b) => a - b);
  };
  /** Passes records on in output order, skipping (and checking) those the CSV has. */
  const emit = async (list: readonly RunRecord[]): Promise<void> => {
    const fresh: RunRecord[] = [];
    for (const r of list) {
      if (outputAt < written.length) {
        if (written[outputAt] !== r.runId)
          throw new UsageError(
            `--resume: row ${outputAt + 2} has run_id ${written[outputAt]}, expected ${r.runId} (rows under early stopping come rung by rung); the file was changed by hand`,
          );
      } else fresh.push(r);
      outputAt++;
    }
    for (const b of batchesOf(fresh, columns.metrics.length, width))
      for (const c of options.consumers) await c.accept(b);
    runs += fresh.length;
  };
  const sweep = (ids: readonly number[], budget: number, consumers: readonly Consumer[]) => {
    updates += ids.length * budget;
    return runSweep(plan, { ...options, runs: rangesOf(ids), budget, consumers });
  };
  const outcome = (interrupted: boolean): EarlyOutcome => ({
    runs,
    interrupted,
    updates,
    seconds: (performance.now() - started) / 1000,
  });

  for (let level = 0; level < rungs; level++) {
    const ids = runsOf(level);
    const got = new Map<number, RunRecord>();
    // Records of this rung already in the journal come first, in the same order.
    while (journalAt < journaled.length && got.size < ids.length) {
      const r = journaled[journalAt];
      if (r.runId !== ids[got.size])
        throw new UsageError(
          `--resume: the early-stopping journal has run ${r.runId} where run ${ids[got.size]} of rung ${level + 1} belongs; it was changed by hand`,
        );
      got.set(r.runId, r);
      journalAt++;
    }
    const rest = ids.slice(got.size);
    if (rest.length > 0) {
      const collect: Consumer = { accept: (b) => void [...records(b)].forEach((r) => got.set(r.runId, r)) };
      const done = await sweep(rest, budgets[level], [options.journal, collect]);
      if (done.interrupted) return outcome(true);
    }
    // Each bracket that has reached this rung decides on its own configurations.
    const stopped: RunRecord[] = [];
    for (let b = 0; b < start.length; b++) {
      if (start[b] > level) continue;
      const mine = [...active].filter((c) => of[c] === b).sort((x, y) => x - y);
      const values = mine.map((c) => {
        let sum = 0;
        for (let s = 0; s < seeds; s++) {
          const r = got.get(c * seeds + s)!;
          sum += r.status === 'ok' ? sign * (metric < 0 ? r.finalLoss : r.metrics[metric]) : NaN;
        }
        return sum / seeds;
      });
      for (const c of stopping(e, mine, values)) {
        active.delete(c);
        for (let s = 0; s < seeds; s++) stopped.push(pruned(got.get(c * seeds + s)!, budgets[level]));
      }
    }
    await emit(stopped.sort((x, y) => x.runId - y.runId));
  }
  if (journalAt < journaled.length)
    throw new UsageError(`--resume: the early-stopping journal has more rows than its rungs; it was changed by hand`);

  // The last level: the survivors to the end, streamed as they finish.
  const ids = runsOf(rungs);
  const have = Math.max(0, written.length - outputAt);
  for (let i = 0; i < have; i++)
    if (written[outputAt + i] !== ids[i])
      throw new UsageError(
        `--resume: row ${outputAt + i + 2} has run_id ${written[outputAt + i]}, expected ${ids[i]}; the file was changed by hand`,
      );
  outputAt += have;
  const rest = ids.slice(have);
  if (rest.length === 0) return outcome(false);
  const done = await sweep(rest, plan.steps, options.consumers);
  runs += done.runs;
  return outcome(done.interrupted);
}

/** Updates a sweep makes: without early stopping, and with it at most (reruns
 * included; exact for successive halving and hyperband unless runs diverge). */
export function plannedUpdates(plan: Plan): { full: number; early?: number } {
  const full = plan.total * plan.steps;
  const e = plan.earlyStopping;
  if (!e) return { full };
  const seeds = plan.seeds.length;
  const budgets = levels(e, plan.steps);
  const rungs = budgets.length - 1;
  const configs = plan.total / seeds;
  const { of, start } = brackets(e, configs, rungs);
  const count = start.map((_, b) => of.filter((x) => x === b).length);
  let early = 0;
  for (let level = 0; level <= rungs; level++)
    for (let b = 0; b < start.length; b++) {
      if (start[b] > level) continue;
      early += count[b] * seeds * budgets[level];
      if (level < rungs && e.method !== 'median') count[b] = Math.ceil(count[b] / e.reduction);
    }
  return { full, early };
}
