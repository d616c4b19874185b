/**
 * Running a batch: a contiguous slice of a plan's runs, one after another, on one
 * arena. The worker entry calls this; tests call it directly, without threads.
 */
import { specAt } from './grid.js';
import { PROBLEMS } from './problems/index.js';
import { STATUS_CODE, type Batch, type BatchResult } from './protocol.js';
import { rng } from './rng.js';
import { runOne, workspace, type CurveSink, type LiveSink, type RunResult, type Workspace } from './run.js';
import type { OptimizerName } from './optimizers/index.js';
import type { Problem } from './problems/index.js';
import { layout, record, row } from './sink.js';

/** Longest error message kept in the CSV. */
const ERROR_CHARS = 200;

export interface BatchLive extends LiveSink {
  begin(runId: number): void;
  end(): void;
}

export function runBatch(batch: Batch, arena: Float64Array, live?: BatchLive): BatchResult {
  const { plan, data, first, count, curveEvery } = batch;
  const def = PROBLEMS[plan.problem.name];
  const options = plan.problem.options;
  const l = layout(plan, def.metrics(options));
  const status = new Uint8Array(count);
  const finalLoss = new Float64Array(count);
  const bestLoss = new Float64Array(count);
  const divergedAt = new Int32Array(count);
  const durationMs = new Float64Array(count);
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
  const dim = def.dim(options);
  const workspaces = new Map<OptimizerName, Workspace>();
  const problems = new Map<number, Problem>();
  for (let k = 0; k < count; k++) {
    const spec = specAt(plan, first + k);
    runId = spec.id;
    live?.begin(spec.id);
    const started = performance.now();
    let r: RunResult;
    try {
      let ws = workspaces.get(spec.optimizer);
      if (!ws) workspaces.set(spec.optimizer, (ws = workspace(arena, dim, spec.optimizer)));
      let problem = problems.get(spec.seed);
      if (!problem) {
        const seed = spec.seed;
        problems.set(seed, (problem = def.create(options, { seed, rng: (label) => rng(seed, label), data })));
      }
      r = runOne(spec, problem, ws, live, curve);
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
    csv += row(plan, l, spec, r, durationMs[k]);
  }
  live?.end();
  return { first, count, status, finalLoss, bestLoss, divergedAt, durationMs, csv, curves };
}
