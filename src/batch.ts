/**
 * Running a batch: a contiguous slice of a plan's runs, one after another, on one
 * arena. The worker entry calls this; tests call it directly, without threads.
 */
import { specAt } from './grid.js';
import { PROBLEMS } from './problems/index.js';
import { STATUS_CODE, type Batch, type BatchResult } from './protocol.js';
import { rng } from './rng.js';
import { runOne, type LiveSink, type RunResult } from './run.js';
import { formatRows, layout, row } from './sink.js';

/** Longest error message kept in the CSV. */
const ERROR_CHARS = 200;

export interface BatchLive extends LiveSink {
  begin(runId: number): void;
  end(): void;
}

export function runBatch(batch: Batch, arena: Float64Array, live?: BatchLive): BatchResult {
  const { plan, data, first, count } = batch;
  const def = PROBLEMS[plan.problem.name];
  const options = plan.problem.options;
  const l = layout(plan, def.metrics(options));
  const status = new Uint8Array(count);
  const finalLoss = new Float64Array(count);
  const bestLoss = new Float64Array(count);
  const divergedAt = new Int32Array(count);
  const durationMs = new Float64Array(count);
  const rows: unknown[][] = [];
  for (let k = 0; k < count; k++) {
    const spec = specAt(plan, first + k);
    live?.begin(spec.id);
    const started = performance.now();
    let r: RunResult;
    try {
      const problem = def.create(options, { seed: spec.seed, rng: (label) => rng(spec.seed, label), data });
      r = runOne(spec, problem, arena, live);
    } catch (e) {
      const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      r = {
        status: 'error',
        finalLoss: NaN,
        bestLoss: NaN,
        divergedAt: -1,
        durationMs: performance.now() - started,
        metrics: [],
        error: message.replace(/\s+/g, ' ').slice(0, ERROR_CHARS),
      };
    }
    status[k] = STATUS_CODE[r.status];
    finalLoss[k] = r.finalLoss;
    bestLoss[k] = r.bestLoss;
    divergedAt[k] = r.divergedAt;
    durationMs[k] = r.durationMs;
    rows.push(row(plan, l, spec, r));
  }
  live?.end();
  return { first, count, status, finalLoss, bestLoss, divergedAt, durationMs, csv: formatRows(rows) };
}
