/**
 * Real sweeps as test fixtures: a plan run in this thread by the engine's own run
 * loop (`runOne`, one problem instance per seed as the batch loop keeps them), into
 * RunRecords and Curves, the data a results consumer and the report take.
 *
 * Curves hold the loss, then the problem's traced coordinates; with `accuracy` (MNIST)
 * the training and held-out accuracy at each checkpoint instead (computed here from
 * the checkpoint's parameters with the problem's own `finish`).
 */
import { Arena, arenaBytes } from '../src/arena.js';
import { parseConfig } from '../src/config/load.js';
import { specAt, type Plan } from '../src/grid.js';
import type { OptimizerName } from '../src/optimizers/index.js';
import { PROBLEMS, type Problem } from '../src/problems/index.js';
import type { Curve, RunRecord } from '../src/results.js';
import { rng } from '../src/rng.js';
import { maxMemoryNeeded, runOne, workspace, type CurveSink, type Workspace } from '../src/run.js';
import { columnsOf } from '../src/csv.js';
import { resolveData } from '../src/protocol.js';

export interface Fixture {
  plan: Plan;
  records: RunRecord[];
  curves: Map<number, Curve>;
  /** Names of a curve's values, per point: loss first. */
  curveColumns: string[];
}

/** The book's experiment A (configs/book-bowl.json): "optimizer_compare_naive". */
export const BOOK_BOWL = {
  name: 'book-bowl',
  problem: { name: 'anisotropic-bowl', start: [-7, 2] },
  optimizers: [
    { name: 'sgd', lr: 0.95 },
    { name: 'momentum', lr: 0.1 },
    { name: 'adagrad', lr: 1.5 },
    { name: 'adam', lr: 0.3 },
  ],
  steps: 30,
};

export function plan(config: object): Plan {
  return parseConfig(JSON.stringify(config), 'fixture.json');
}

/** Runs every run of `plan` (or those of `ids`), recording curves every `curveEvery`
 * steps (0: none). */
export async function runPlan(
  p: Plan,
  { curveEvery = 1, accuracy = false, ids }: { curveEvery?: number; accuracy?: boolean; ids?: Iterable<number> } = {},
): Promise<Fixture> {
  const def = PROBLEMS[p.problem.name];
  const options = p.problem.options;
  const data = await resolveData(p.problem);
  const dim = def.dim(options);
  const l = columnsOf(p);
  const arena = Arena.create(arenaBytes(maxMemoryNeeded(dim)) + (def.scratchBytes?.(options) ?? 0));
  const block = arena.f64(maxMemoryNeeded(dim));
  const scratch = arena.mark();
  const traced = def.trajectory?.(options) ?? [];
  const accuracyColumns = ['train_acc', l.metrics[2]];
  const curveColumns = ['loss', ...(accuracy ? accuracyColumns : traced)];
  const workspaces = new Map<OptimizerName, Workspace>();
  let problem: Problem | undefined;
  let problemSeed = NaN;
  const records: RunRecord[] = [];
  const curves = new Map<number, Curve>();
  for (const id of ids ?? Array.from({ length: p.total }, (_, i) => i)) {
    const spec = specAt(p, id);
    if (spec.seed !== problemSeed || !problem) {
      arena.release(scratch);
      problem = def.create(options, { seed: spec.seed, rng: (label) => rng(spec.seed, label), data, arena });
      problemSeed = spec.seed;
    }
    let ws = workspaces.get(spec.optimizer);
    if (!ws) workspaces.set(spec.optimizer, (ws = workspace(block, dim, spec.optimizer, arena.memory)));
    const steps: number[] = [];
    const values: number[] = [];
    const current = problem;
    const sink: CurveSink | undefined =
      curveEvery > 0
        ? {
            every: curveEvery,
            point(step, loss, W) {
              steps.push(step);
              values.push(loss);
              if (accuracy) {
                const [, trainAcc, heldOutAcc] = Number.isFinite(loss) ? current.finish(W) : [NaN, NaN, NaN];
                values.push(trainAcc, heldOutAcc);
              } else for (let i = 0; i < traced.length; i++) values.push(W[i]);
            },
          }
        : undefined;
    const started = performance.now();
    const r = runOne(spec, problem, ws, undefined, sink);
    const base = {
      runId: id,
      bestLoss: r.bestLoss,
      durationMs: performance.now() - started,
      metrics: Float64Array.from({ length: l.metrics.length }, (_, i) => r.metrics[i] ?? NaN),
    };
    records.push(
      r.status === 'ok'
        ? { ...base, status: 'ok', finalLoss: r.finalLoss }
        : { ...base, status: 'diverged', divergedAt: r.divergedAt },
    );
    if (sink) curves.set(id, { step: Int32Array.from(steps), values: Float64Array.from(values) });
  }
  return { plan: p, records, curves, curveColumns };
}
