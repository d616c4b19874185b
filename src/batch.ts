/**
 * Running a batch: a contiguous slice of a plan's runs, one after another, on one
 * arena, into a `ResultBatch`. Every executor's worker calls this; tests call it
 * directly, without threads.
 */
import { specAt } from './grid.js';
import { problemDef } from './problems/index.js';
import { checkVersion, type BatchRequest } from './protocol.js';
import { ResultsBuilder, type ResultBatch } from './results.js';
import { rng } from './rng.js';
import { Arena } from './arena.js';
import type { KernelMemory } from './kernels/index.js';
import { Workspaces, runOne, type CurveSink, type LiveSink, type RunResult } from './run.js';
import type { Problem } from './problems/index.js';
import { RowBuffer, RowEncoder, columnsOf, curveColumns } from './csv.js';

/** Longest error message kept in the CSV. */
const ERROR_CHARS = 200;

export interface BatchLive extends LiveSink {
  begin(runId: number): void;
  end(): void;
}

/** Bytes of arena a run of this problem needs: its workspace (for the optimizer with
 * the most state) and the problem's scratch; with problem axes, the largest variant's. */
export function runBytes(problem: { name: string; options: object; variants?: readonly object[] }): number {
  const def = problemDef(problem);
  const variants = problem.variants ?? [problem.options];
  return Workspaces.bytes(def, variants) + Math.max(...variants.map((o) => def.scratchBytes?.(o) ?? 0));
}

/** Runs the batch on `memory` (at least `runBytes` usable bytes); `data` is what
 * `resolveData` gave for the plan's problem, on this side of the boundary. */
export function runBatch(request: BatchRequest, data: unknown, memory: KernelMemory, live?: BatchLive): ResultBatch {
  checkVersion(request, 'a batch request');
  const { plan, first, count, curveEvery, budget } = request;
  const def = problemDef(plan.problem);
  const options = plan.problem.options;
  const encoder = request.encodeRows ? new RowEncoder(plan) : undefined;
  const width = curveEvery > 0 ? curveColumns(plan).length : 0;
  const results = new ResultsBuilder(first, count, columnsOf(plan).metrics.length, width);
  const point = new Float64Array(width);
  const curve: CurveSink | undefined =
    width > 0
      ? {
          every: curveEvery,
          point(step, loss, W) {
            point[0] = loss;
            for (let i = 1; i < width; i++) point[i] = W[i - 1];
            results.point(step, point);
          },
        }
      : undefined;
  // With problem axes, each run has its own options (spec.problem): the workspace
  // block is sized for the largest variant, instances are kept per variant and seed.
  const variants = plan.problem.variants ?? [options];
  const arena = new Arena(memory);
  const workspaces = new Workspaces(def, variants, arena);
  const scratch = arena.mark();
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
  const rows = encoder && new RowBuffer(count);
  for (let k = 0; k < count; k++) {
    const spec = budget === plan.steps ? specAt(plan, first + k) : { ...specAt(plan, first + k), steps: budget };
    live?.begin(spec.id);
    const started = performance.now();
    let r: RunResult;
    try {
      const ws = workspaces.for(spec.optimizer, spec.problem);
      r = runOne(spec, problemFor(spec.seed, spec.problem), ws, live, curve);
    } catch (e) {
      const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      results.dropPoints();
      r = { status: 'error', finalLoss: NaN, bestLoss: NaN, divergedAt: -1, metrics: [], error: oneLine(message) };
    }
    results.addOutcome(
      r.status,
      r.finalLoss,
      r.bestLoss,
      r.divergedAt,
      performance.now() - started,
      r.metrics,
      r.error,
    );
    rows?.push(encoder!.row(spec, results.partial, k, r.error), r.error === undefined);
  }
  live?.end();
  return results.build(rows?.done());
}

/** An error message as a CSV cell keeps it: one line, at most ERROR_CHARS. */
export const oneLine = (message: string): string => message.replace(/\s+/g, ' ').slice(0, ERROR_CHARS);
