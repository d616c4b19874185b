/**
 * One run, start to finish, on memory the caller provides: no threads here, so a
 * test can drive it directly. The worker calls it with views of shared memory.
 */
import type { RunSpec } from './grid.js';
import { OPTIMIZERS, type OptState } from './optimizers/index.js';
import type { Problem, Span } from './problems/index.js';

export type RunStatus = 'ok' | 'diverged' | 'error';

export interface RunResult {
  status: RunStatus;
  /** Loss at the final parameters; NaN when diverged or errored. */
  finalLoss: number;
  /** Lowest finite loss seen (initial point included); NaN if none. */
  bestLoss: number;
  /** Updates done when the loss or the parameters first became NaN or ±Inf; -1 if never. */
  divergedAt: number;
  durationMs: number;
  /** The problem's own metrics at the end, in its `metrics` order (NaN when diverged). */
  metrics: number[];
  /** Short reason, for status `error`. */
  error?: string;
}

/** Where a run reports its live step and loss (the pool maps it onto shared memory). */
export interface LiveSink {
  step(step: number, loss: number): void;
}

/** Float64 slots a run needs: W, g, and each optimizer state array, `dim` each. */
export function memoryNeeded(dim: number, optimizer: keyof typeof OPTIMIZERS): number {
  return dim * (2 + OPTIMIZERS[optimizer].state.length);
}

/** The largest `memoryNeeded` over every optimizer. */
export function maxMemoryNeeded(dim: number): number {
  return dim * (2 + Math.max(...Object.values(OPTIMIZERS).map((o) => o.state.length)));
}

/** The loss with L2 weight decay: f + ½·λ·Σ W² over `spans`, and g += λ·W there. */
function addWeightDecay(loss: number, W: Float64Array, g: Float64Array, spans: readonly Span[], lambda: number): number {
  let sum = 0;
  for (const [start, end] of spans) {
    for (let i = start; i < end; i++) {
      const w = W[i];
      sum += w * w;
      g[i] += lambda * w;
    }
  }
  return loss + 0.5 * lambda * sum;
}

/**
 * Runs `spec` on `problem`, with W, g and the optimizer state carved from `memory`
 * (zeroed here). Divergence is data: the run stops and says when.
 */
export function runOne(spec: RunSpec, problem: Problem, memory: Float64Array, live?: LiveSink): RunResult {
  const started = performance.now();
  const optimizer = OPTIMIZERS[spec.optimizer];
  const dim = problem.dim;
  const slots = memoryNeeded(dim, spec.optimizer);
  if (memory.length < slots) throw new RangeError(`run ${spec.id} needs ${slots} float64 slots, got ${memory.length}`);
  memory.fill(0, 0, slots);
  const W = memory.subarray(0, dim);
  const g = memory.subarray(dim, 2 * dim);
  const state: OptState = {
    arrays: optimizer.state.map((_, k) => memory.subarray((2 + k) * dim, (3 + k) * dim)),
    count: 0,
  };
  const { hyper, weightDecay, steps } = spec;
  problem.init(W);

  let best = Infinity;
  let loss = NaN;
  let step = 0;
  for (; ; step++) {
    loss = problem.lossAndGrad(W, g, step);
    if (weightDecay > 0) loss = addWeightDecay(loss, W, g, problem.decayed, weightDecay);
    live?.step(step, loss);
    // A NaN or ±Inf parameter makes the loss non-finite; so does an overflowing one.
    if (!Number.isFinite(loss)) break;
    if (loss < best) best = loss;
    if (step === steps) break;
    optimizer.update(W, g, state, hyper);
  }
  const diverged = !Number.isFinite(loss);
  return {
    status: diverged ? 'diverged' : 'ok',
    finalLoss: diverged ? NaN : loss,
    bestLoss: best === Infinity ? NaN : best,
    divergedAt: diverged ? step : -1,
    durationMs: performance.now() - started,
    metrics: diverged ? [] : problem.finish(W),
  };
}
