/**
 * Runs again, for their curves: runs are deterministic (same plan and run id, same
 * numbers, whatever ran them), so a sweep that kept no curves, or too large to keep
 * them all, needs only the few its report draws (`curveRuns`) run again, here, in
 * this thread, by the engine's run loop (`runOne`, one problem instance per seed,
 * as the batch loop keeps them).
 *
 * With `accuracy` (mnist-mlp), each checkpoint also holds the training and held-out
 * accuracy at its parameters (the problem's own `finish`): the book's random-search
 * figure draws those. Without, the loss and the traced coordinates, as the sweep's
 * curves file has them.
 */
import { Arena } from '../arena.js';
import { runBytes } from '../batch.js';
import { columnsOf, curveColumns } from '../csv.js';
import { specAt, type Plan } from '../grid.js';
import { problemDef, type Problem } from '../problems/index.js';
import { resolveData } from '../protocol.js';
import type { Curve, RunRecord } from '../results.js';
import { rng } from '../rng.js';
import { Workspaces, runOne, type CurveSink } from '../run.js';

export interface Rerun {
  readonly records: RunRecord[];
  readonly curves: Map<number, Curve>;
  /** Names of a curve point's values, the loss first. */
  readonly curveColumns: readonly string[];
}

/** The columns of curves with accuracies: the loss, training and held-out accuracy. */
export const accuracyColumns = (plan: Plan): string[] => {
  const metrics = columnsOf(plan).metrics;
  return ['loss', 'train_acc', metrics[metrics.length - 1]];
};

/** Runs `ids` of `plan` (in the order given), their curves recorded every `every`
 * steps (0: none). */
export async function runWithCurves(
  plan: Plan,
  ids: Iterable<number>,
  { every, accuracy = false }: { every: number; accuracy?: boolean },
): Promise<Rerun> {
  const def = problemDef(plan.problem);
  const data = await resolveData(plan.problem);
  // With problem axes each run has its own options: memory for the largest variant.
  const variants = plan.problem.variants ?? [plan.problem.options];
  const metricCount = columnsOf(plan).metrics.length;
  const arena = Arena.create(runBytes(plan.problem));
  const workspaces = new Workspaces(def, variants, arena);
  const scratch = arena.mark();
  const columns = accuracy ? accuracyColumns(plan) : curveColumns(plan);
  const traced = columns.length - 1;
  let problem: Problem | undefined;
  let problemKey = '';
  const records: RunRecord[] = [];
  const curves = new Map<number, Curve>();
  for (const id of ids) {
    const spec = specAt(plan, id);
    // One problem instance per variant and seed, as the batch loop keeps them.
    const key = `${JSON.stringify(spec.problem)}|${spec.seed}`;
    if (!problem || key !== problemKey) {
      arena.release(scratch);
      problem = def.create(spec.problem, { seed: spec.seed, rng: (label) => rng(spec.seed, label), data, arena });
      problemKey = key;
    }
    const ws = workspaces.for(spec.optimizer, spec.problem);
    const steps: number[] = [];
    const values: number[] = [];
    const current = problem;
    const sink: CurveSink | undefined =
      every > 0
        ? {
            every,
            point(step, loss, W) {
              steps.push(step);
              values.push(loss);
              if (accuracy) {
                // finish: [train_loss, train_acc, held-out acc]; it draws no minibatch.
                const m = Number.isFinite(loss) ? current.finish(W) : [NaN, NaN, NaN];
                values.push(m[1], m[2]);
              } else for (let i = 0; i < traced; i++) values.push(W[i]);
            },
          }
        : undefined;
    const started = performance.now();
    let r: ReturnType<typeof runOne>;
    try {
      r = runOne(spec, problem, ws, undefined, sink);
    } catch (e) {
      // As the batch loop records it: an error, and no curve.
      const metrics = new Float64Array(metricCount).fill(NaN);
      records.push({ runId: id, status: 'error', error: String(e), bestLoss: NaN, durationMs: NaN, metrics });
      continue;
    }
    const base = {
      runId: id,
      bestLoss: r.bestLoss,
      durationMs: performance.now() - started,
      metrics: Float64Array.from({ length: metricCount }, (_, i) => r.metrics[i] ?? NaN),
    };
    records.push(
      r.status === 'ok'
        ? { ...base, status: 'ok', finalLoss: r.finalLoss }
        : { ...base, status: 'diverged', divergedAt: r.divergedAt },
    );
    if (sink) curves.set(id, { step: Int32Array.from(steps), values: Float64Array.from(values) });
  }
  return { records, curves, curveColumns: columns };
}

/** The curves of runs `ids` of `plan`, recorded every `every` steps. */
export async function rerunCurves(
  plan: Plan,
  ids: Iterable<number>,
  every: number,
  accuracy = false,
): Promise<Map<number, Curve>> {
  return (await runWithCurves(plan, ids, { every, accuracy })).curves;
}
