/**
 * Curves for the runs a report draws, by running them again: runs are deterministic
 * (same plan and run id, same numbers, whatever ran them), so a sweep that kept no
 * curves, or too large to keep them all, needs only these few re-run (`curveRuns`).
 * Runs here, in this thread, through the batch loop every executor's workers use.
 */
import { runBatch, runBytes } from '../batch.js';
import type { Plan } from '../grid.js';
import { createSharedMemory } from '../kernels/index.js';
import { request, resolveData } from '../protocol.js';
import { recordAt, type Curve } from '../results.js';

/** The curves of runs `ids` of `plan`, recorded every `every` steps. */
export async function rerunCurves(plan: Plan, ids: Iterable<number>, every: number): Promise<Map<number, Curve>> {
  const data = await resolveData(plan.problem);
  const memory = createSharedMemory(runBytes(plan.problem));
  const curves = new Map<number, Curve>();
  for (const id of ids) {
    const curve = recordAt(runBatch(request(plan, id, 1, every, false), data, memory), 0).curve;
    if (curve) curves.set(id, curve);
  }
  return curves;
}
