/**
 * Curves for the runs a report draws, by running them again: runs are deterministic
 * (same plan and run id, same numbers, whatever ran them), so a sweep that kept no
 * curves, or too large to keep them all, needs only these few re-run (`curveRuns`).
 * Runs here, in this thread, through the batch loop the workers use.
 */
import { runBatch, runBytes } from '../batch.js';
import type { Plan } from '../grid.js';
import { createSharedMemory } from '../kernels/index.js';
import type { Curve } from '../results.js';
import { loadData } from '../sweep.js';

/** The curves of runs `ids` of `plan`, recorded every `every` steps. */
export async function rerunCurves(plan: Plan, ids: Iterable<number>, every: number): Promise<Map<number, Curve>> {
  const data = await loadData(plan);
  const memory = createSharedMemory(runBytes(plan.problem));
  const curves = new Map<number, Curve>();
  for (const id of ids) {
    const result = runBatch({ plan, data, first: id, count: 1, curveEvery: every }, memory);
    // The batch loop writes curves as CSV rows: run_id, step, loss, traced coordinates.
    const rows = result.curves
      .trimEnd()
      .split('\n')
      .map((line) => line.split(',').map((cell) => (cell === '' ? NaN : Number(cell))));
    curves.set(id, {
      step: Int32Array.from(rows, (r) => r[1]),
      values: Float64Array.from(rows.flatMap((r) => r.slice(2))),
    });
  }
  return curves;
}
