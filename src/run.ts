/**
 * One run, start to finish, on memory the caller provides: no threads here, so a
 * test can drive it directly. The worker calls it with views of shared memory.
 */
import type { RunSpec } from './grid.js';
import { optimizerKernel, type KernelMemory } from './kernels/index.js';
import { OPTIMIZERS, type OptState, type Optimizer, type OptimizerName } from './optimizers/index.js';
import type { Problem, Span } from './problems/index.js';
import type { RunStatus } from './results.js';

/** A run's outcome as the run loop gives it (the batch turns it into a record). */
export interface RunResult {
  status: RunStatus;
  /** Loss at the final parameters; NaN when diverged or errored. */
  finalLoss: number;
  /** Lowest finite loss seen (initial point included); NaN if none. */
  bestLoss: number;
  /** Updates done when the loss or the parameters first became NaN or ±Inf, or the
   * loss rose above the divergence limit; -1 if never. */
  divergedAt: number;
  /** The problem's own metrics at the end, in its `metrics` order (NaN when diverged). */
  metrics: number[];
  /** Short reason, for status `error`. */
  error?: string;
}

/** Where a run reports its live step and loss (the pool maps it onto shared memory). */
export interface LiveSink {
  step(step: number, loss: number): void;
}

/** Where a run records its loss curve: at step 0, every `every` steps, and at its
 * last step (the final or the diverging one). */
export interface CurveSink {
  readonly every: number;
  point(step: number, loss: number, W: Float64Array): void;
}

/** The views a run works in: parameters, gradient and optimizer state, carved from
 * one block of memory (in a worker, shared memory). Reused by consecutive runs. */
export interface Workspace {
  readonly optimizer: OptimizerName;
  readonly W: Float64Array;
  readonly g: Float64Array;
  readonly state: OptState;
  /** The optimizer's update: the JS loop, or its bit-identical SIMD kernel. */
  readonly update: Optimizer['update'];
}

/** From this many parameters on, the SIMD kernel beats the JS loop (a kernel call
 * has a fixed cost of checks and a boundary crossing). */
export const KERNEL_MIN_DIM = 1024;

/** Carves a workspace for `optimizer` on a `dim`-parameter problem out of `memory`.
 * When `memory` is a view of `kernels` (a run's arena), large updates run there. */
export function workspace(
  memory: Float64Array,
  dim: number,
  optimizer: OptimizerName,
  kernels?: KernelMemory,
): Workspace {
  const slots = memoryNeeded(dim, optimizer);
  if (memory.length < slots)
    throw new RangeError(`a ${dim}-parameter ${optimizer} run needs ${slots} float64 slots, got ${memory.length}`);
  return {
    optimizer,
    W: memory.subarray(0, dim),
    g: memory.subarray(dim, 2 * dim),
    state: {
      arrays: OPTIMIZERS[optimizer].state.map((_, k) => memory.subarray((2 + k) * dim, (3 + k) * dim)),
      count: 0,
    },
    update: kernels && dim >= KERNEL_MIN_DIM ? optimizerKernel(optimizer, kernels) : OPTIMIZERS[optimizer].update,
  };
}

/** Float64 slots a run needs: W, g, and each optimizer state array, `dim` each. */
export function memoryNeeded(dim: number, optimizer: OptimizerName): number {
  return dim * (2 + OPTIMIZERS[optimizer].state.length);
}

/** The largest `memoryNeeded` over every optimizer. */
export function maxMemoryNeeded(dim: number): number {
  return dim * (2 + Math.max(...Object.values(OPTIMIZERS).map((o) => o.state.length)));
}

/** The loss with L2 weight decay: f + ½·λ·Σ W² over `spans`, and g += λ·W there. */
function addWeightDecay(
  loss: number,
  W: Float64Array,
  g: Float64Array,
  spans: readonly Span[],
  lambda: number,
): number {
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

/** The loss above which a run whose starting loss is `start` has diverged: an
 * exploding loss can stay finite for a long while (sgd at lr 5 on the bowl ends at
 * 7e57 after 30 steps), and would otherwise be ranked as an ok run. */
export const divergenceLimit = (start: number, factor: number): number => factor * Math.max(Math.abs(start), 1);

/**
 * Runs `spec` on `problem` in `ws` (zeroed here: all state starts at zero).
 * Divergence is data: a loss that is NaN or ±Inf, or above `divergenceLimit` of the
 * starting loss, stops the run, which says when.
 */
export function runOne(spec: RunSpec, problem: Problem, ws: Workspace, live?: LiveSink, curve?: CurveSink): RunResult {
  if (ws.optimizer !== spec.optimizer || ws.W.length !== problem.dim)
    throw new RangeError(
      `run ${spec.id} (${spec.optimizer}, ${problem.dim} parameters) got a workspace for ${ws.optimizer}, ${ws.W.length}`,
    );
  const { W, g, state, update } = ws;
  W.fill(0);
  g.fill(0);
  for (const a of state.arrays) a.fill(0);
  state.count = 0;
  const { hyper, weightDecay, steps } = spec;
  problem.init(W);

  let best = Infinity;
  let limit = Infinity;
  let loss: number;
  let diverged: boolean;
  let step = 0;
  for (; ; step++) {
    loss = problem.lossAndGrad(W, g, step);
    if (weightDecay > 0) loss = addWeightDecay(loss, W, g, problem.decayed, weightDecay);
    live?.step(step, loss);
    if (step === 0) limit = divergenceLimit(loss, spec.divergenceFactor);
    // A NaN or ±Inf parameter makes the loss non-finite; so does an overflowing one.
    diverged = !Number.isFinite(loss) || loss > limit;
    const last = step === steps || diverged;
    if (curve && (last || step % curve.every === 0)) curve.point(step, loss, W);
    if (diverged) break;
    if (loss < best) best = loss;
    if (last) break;
    update(W, g, state, hyper);
  }
  return {
    status: diverged ? 'diverged' : 'ok',
    finalLoss: diverged ? NaN : loss,
    bestLoss: best === Infinity ? NaN : best,
    divergedAt: diverged ? step : -1,
    metrics: diverged ? [] : problem.finish(W),
  };
}
