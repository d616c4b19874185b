/**
 * Real sweeps as test fixtures: a plan run in this thread by the engine's run loop
 * (`runWithCurves`, as the report re-runs what it draws), into RunRecords and
 * Curves, the data a results consumer and the report take. With `accuracy` (MNIST)
 * each checkpoint holds the training and held-out accuracy instead of coordinates.
 */
import { parseConfig } from '../src/config/load.js';
import type { Plan } from '../src/grid.js';
import { runWithCurves } from '../src/report/rerun.js';
import type { Curve, RunRecord } from '../src/results.js';

export interface Fixture {
  plan: Plan;
  records: RunRecord[];
  curves: Map<number, Curve>;
  /** Names of a curve's values, per point: loss first. */
  curveColumns: readonly string[];
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

/** Runs every run of `p` (or those of `ids`), recording curves every `curveEvery`
 * steps (0: none). */
export async function runPlan(
  p: Plan,
  { curveEvery = 1, accuracy = false, ids }: { curveEvery?: number; accuracy?: boolean; ids?: Iterable<number> } = {},
): Promise<Fixture> {
  const all = ids ?? Array.from({ length: p.total }, (_, i) => i);
  return { plan: p, ...(await runWithCurves(p, all, { every: curveEvery, accuracy })) };
}
