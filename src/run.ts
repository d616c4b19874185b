/**
 * One run, start to finish, on memory the caller provides: no threads here, so a
 * test can drive it directly. The worker calls it with views of shared memory.
 */
import { arenaBytes, type Arena } from './arena.js';
import type { RunSpec } from './grid.js';
import { optimizerKernel, type KernelMemory, type Precision } from './kernels/index.js';
import {
  OPTIMIZERS,
  OPTIMIZER_NAMES,
  type OptState,
  type Optimizer,
  type OptimizerName,
  type Params,
} from './optimizers/index.js';
import type { Problem, ProblemDef, Span } from './problems/index.js';
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
  point(step: number, loss: number, W: Params): void;
}

/** The views a run works in: parameters, gradient and optimizer state, carved from
 * one block of memory (in a worker, shared memory). Reused by consecutive runs. */
export interface Workspace {
  readonly optimizer: OptimizerName;
  /** Float64Arrays, or Float32Arrays in float32. */
  readonly precision: Precision;
  readonly W: Params;
  readonly g: Params;
  readonly state: OptState;
  /** The optimizer's update: the JS loop, or its SIMD kernel (bit-identical in
   * float64; in float32 the only one). */
  readonly update: Optimizer['update'];
}

/** From this many parameters on, the float64 SIMD kernel beats the JS loop (a kernel
 * call has a fixed cost of checks and a boundary crossing). */
export const KERNEL_MIN_DIM = 1024;

/** Elements from one array of a workspace to the next: float64 arrays packed (as
 * they always were), float32 ones on 64-byte boundaries (whole f32x4 vectors, a
 * cache line). */
const stride = (dim: number, precision: Precision): number => (precision === 'f64' ? dim : Math.ceil(dim / 16) * 16);

/** Carves a workspace for `optimizer` on a `dim`-parameter problem out of `memory`
 * (float64 slots, viewed as float32 in float32). When `memory` is a view of `kernels`
 * (a run's arena), large float64 updates and every float32 update run there; a
 * float32 workspace needs `kernels`. */
export function workspace(
  memory: Float64Array,
  dim: number,
  optimizer: OptimizerName,
  kernels?: KernelMemory,
  precision: Precision = 'f64',
): Workspace {
  const slots = memoryNeeded(dim, optimizer, precision);
  if (memory.length < slots)
    throw new RangeError(`a ${dim}-parameter ${optimizer} run needs ${slots} float64 slots, got ${memory.length}`);
  if (precision === 'f32' && !kernels)
    throw new RangeError("a float32 workspace needs the kernels' memory: its updates run on the float32 kernels");
  const step = stride(dim, precision);
  const view =
    precision === 'f64'
      ? (k: number): Params => memory.subarray(k * step, k * step + dim)
      : (k: number): Params => new Float32Array(memory.buffer, memory.byteOffset + 4 * k * step, dim);
  return {
    optimizer,
    precision,
    W: view(0),
    g: view(1),
    state: { arrays: OPTIMIZERS[optimizer].state.map((_, k) => view(2 + k)), count: 0 },
    update:
      kernels && (precision === 'f32' || dim >= KERNEL_MIN_DIM)
        ? optimizerKernel(optimizer, kernels, precision)
        : OPTIMIZERS[optimizer].update,
  };
}

/** Float64 slots a run needs: W, g, and each optimizer state array, `dim` each (of
 * `precision`, float32 ones aligned). */
export function memoryNeeded(dim: number, optimizer: OptimizerName, precision: Precision = 'f64'): number {
  const elements = stride(dim, precision) * (2 + OPTIMIZERS[optimizer].state.length);
  return precision === 'f64' ? elements : Math.ceil(elements / 2);
}

/** The largest `memoryNeeded` over every optimizer. */
export function maxMemoryNeeded(dim: number, precision: Precision = 'f64'): number {
  return Math.max(...OPTIMIZER_NAMES.map((o) => memoryNeeded(dim, o, precision)));
}

/** A problem family's runs, as a worker keeps them: the workspace block sized for the
 * largest of its `variants` (a plan's problem options, one per problem axis value),
 * and a workspace per variant and optimizer, made on first use. */
export class Workspaces {
  private readonly block: Float64Array;
  /** Per variant (the options object itself: a plan's runs share their variant's),
   * per optimizer. */
  private readonly made = new Map<object, Map<OptimizerName, Workspace>>();

  /** Float64 slots of the block for these variants. */
  static slots(def: ProblemDef, variants: readonly object[]): number {
    return Math.max(...variants.map((o) => maxMemoryNeeded(def.dim(o), def.precision?.(o))));
  }

  /** Arena bytes of the block for these variants. */
  static bytes(def: ProblemDef, variants: readonly object[]): number {
    return arenaBytes(Workspaces.slots(def, variants));
  }

  /** Takes the block from `arena` (before the problems' scratch). */
  constructor(
    private readonly def: ProblemDef,
    variants: readonly object[],
    private readonly arena: Arena,
  ) {
    this.block = arena.f64(Workspaces.slots(def, variants));
  }

  /** The workspace of a run of `optimizer` on the problem of `options`. */
  for(optimizer: OptimizerName, options: object): Workspace {
    let made = this.made.get(options);
    if (!made) this.made.set(options, (made = new Map()));
    let ws = made.get(optimizer);
    if (!ws) {
      const precision = this.def.precision?.(options) ?? 'f64';
      made.set(optimizer, (ws = workspace(this.block, this.def.dim(options), optimizer, this.arena.memory, precision)));
    }
    return ws;
  }
}

/** The loss with L2 weight decay: f + ½·λ·Σ W² over `spans`, and g += λ·W there. */
function addWeightDecay(loss: number, W: Params, g: Params, spans: readonly Span[], lambda: number): number {
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
