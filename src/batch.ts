/**
 * Running a batch: a contiguous slice of a plan's runs, one after another, on one
 * arena. The worker entry calls this; tests call it directly, without threads.
 */
import { specAt } from './grid.js';
import { PROBLEMS } from './problems/index.js';
import { STATUS_CODE, type Batch, type BatchResult } from './protocol.js';
import { rng } from './rng.js';
import { Arena, arenaBytes } from './arena.js';
import type { KernelMemory } from './kernels/index.js';
import {
  maxMemoryNeeded,
  runOne,
  workspace,
  type CurveSink,
  type LiveSink,
  type RunResult,
  type Workspace,
} from './run.js';
import type { Problem } from './problems/index.js';
import { layout, record, row } from './sink.js';

/** Longest error message kept in the CSV. */
const ERROR_CHARS = 200;

export interface BatchLive extends LiveSink {
  begin(runId: number): void;
  end(): void;
}

/** Bytes of arena a run of this problem needs: its workspace (for the optimizer with
 * the most state) and the problem's scratch; with problem axes, the largest variant's. */
export function runBytes(problem: { name: string; options: object; variants?: readonly object[] }): number {
  const def = PROBLEMS[problem.name];
  const bytes = (options: object) => arenaBytes(maxMemoryNeeded(def.dim(options))) + (def.scratchBytes?.(options) ?? 0);
  return Math.max(...(problem.variants ?? [problem.options]).map(bytes));
}

/** Runs the batch on `memory` (at least `runBytes` usable bytes). */
export function runBatch(batch: Batch, memory: KernelMemory, live?: BatchLive): BatchResult {
  const { plan, data, first, count, curveEvery } = batch;
  const def = PROBLEMS[plan.problem.name];
  const options = plan.problem.options;
  const l = layout(plan);
  const status = new Uint8Array(count);
  const finalLoss = new Float64Array(count);
  const bestLoss = new Float64Array(count);
  const divergedAt = new Int32Array(count);
  const durationMs = new Float64Array(count);
  const score = new Float64Array(count);
  const rankMetric = l.metrics.indexOf(l.rank.column);
  let csv = '';
  let curves = '';
  let runId = first;
  const traced = def.trajectory?.(options).length ?? 0;
  const curve: CurveSink | undefined =
    curveEvery > 0
      ? {
          every: curveEvery,
          record(step, loss, W) {
            const cells: number[] = [runId, step, loss];
            for (let i = 0; i < traced; i++) cells.push(W[i]);
            curves += record(cells);
          },
        }
      : undefined;
  // With problem axes, each run has its own options (spec.problem): the workspace
  // block is sized for the largest variant, instances are kept per variant and seed.
  const variants = plan.problem.variants ?? [options];
  const arena = new Arena(memory);
  const block = arena.f64(Math.max(...variants.map((o) => maxMemoryNeeded(def.dim(o)))));
  const scratch = arena.mark();
  const workspaces = new Map<string, Workspace>();
  // Problem instances, reused while their seed recurs. One that takes scratch from
  // the arena is the only one alive (a new instance takes the scratch over); one
  // that takes none is kept for every seed of the batch (seeds vary fastest).
  const keepAll = variants.every((o) => (def.scratchBytes?.(o) ?? 0) === 0);
  const problems = new Map<object, Map<number, Problem>>();
  const problemFor = (seed: number, variant: object): Problem => {
    let problem = problems.get(variant)?.get(seed);
    if (!problem) {
      if (!keepAll) {
        problems.clear();
        arena.release(scratch);
      }
      problem = def.create(variant, { seed, rng: (label) => rng(seed, label), data, arena });
      if (!problems.has(variant)) problems.set(variant, new Map());
      problems.get(variant)!.set(seed, problem);
    }
    return problem;
  };
  for (let k = 0; k < count; k++) {
    const spec = specAt(plan, first + k);
    runId = spec.id;
    live?.begin(spec.id);
    const started = performance.now();
    let r: RunResult;
    try {
      const dim = def.dim(spec.problem);
      const key = plan.problem.variants ? `${spec.optimizer} ${dim}` : spec.optimizer;
      let ws = workspaces.get(key);
      if (!ws) workspaces.set(key, (ws = workspace(block, dim, spec.optimizer, memory)));
      r = runOne(spec, problemFor(spec.seed, spec.problem), ws, live, curve);
    } catch (e) {
      const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      r = {
        status: 'error',
        finalLoss: NaN,
        bestLoss: NaN,
        divergedAt: -1,
        metrics: [],
        error: message.replace(/\s+/g, ' ').slice(0, ERROR_CHARS),
      };
    }
    status[k] = STATUS_CODE[r.status];
    finalLoss[k] = r.finalLoss;
    bestLoss[k] = r.bestLoss;
    divergedAt[k] = r.divergedAt;
    durationMs[k] = performance.now() - started;
    score[k] = rankMetric >= 0 ? (r.metrics[rankMetric] ?? NaN) : r.finalLoss;
    csv += row(plan, l, spec, r, durationMs[k]);
  }
  live?.end();
  return { first, count, status, finalLoss, bestLoss, divergedAt, durationMs, score, csv, curves };
}
