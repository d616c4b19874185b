/**
 * The grid: a validated sweep (a `Plan`, plain data that crosses threads) and its
 * pure, deterministic expansion into runs. Run `id` is the run's index in the
 * expansion order, so it is stable for a given config:
 *
 *   for each optimizer (config order)
 *     for each combination of its grid axes (axis order of AXIS_NAMES, first slowest)
 *       for each trial (random search; only optimizers with a distribution axis)
 *         for each seed
 *
 * An axis multiplies only the optimizers that use it. A random-search axis is
 * sampled per trial from `rng(search_seed, "trial:<t>:<axis>")`, so trial t draws
 * the same value for every optimizer (an optimizer's own distribution adds its name
 * to the label).
 */
import { OPTIMIZERS, defaultHyper, type Hyper, type HyperName, type OptimizerName } from './optimizers/index.js';
import { rng } from './rng.js';
import type { DistributionName } from './config/schema.js';

export type AxisName = HyperName | 'weight_decay';

export type Axis =
  | { readonly name: AxisName; readonly kind: 'grid'; readonly values: readonly number[] }
  | {
      readonly name: AxisName;
      readonly kind: 'random';
      readonly distribution: DistributionName;
      readonly min: number;
      readonly max: number;
      /** Sampling label prefix: shared across optimizers unless the optimizer overrides. */
      readonly label: string;
    };

export interface PlanOptimizer {
  readonly name: OptimizerName;
  /** Only the axes this optimizer uses, in AXIS_NAMES order. */
  readonly axes: readonly Axis[];
  /** Whether one of its axes is a distribution (random search). */
  readonly sampled: boolean;
  /** The plan's trials if `sampled`, else 1: trials do not repeat an optimizer that
   * samples nothing. */
  readonly trials: number;
  /** Runs of this optimizer. */
  readonly count: number;
  /** Id of its first run. */
  readonly first: number;
}

/** Early stopping, as validated (see src/early.ts). */
export type EarlyStopping =
  | { readonly method: 'successive-halving' | 'hyperband'; readonly minSteps: number; readonly reduction: number }
  | { readonly method: 'median'; readonly warmupSteps: number; readonly every: number };

export interface Plan {
  readonly name: string;
  readonly problem: { readonly name: string; readonly options: object };
  readonly steps: number;
  readonly seeds: readonly number[];
  /** 1 for a pure grid. */
  readonly trials: number;
  readonly searchSeed: number;
  /** Whether any axis is a distribution (then the CSV has a `trial` column). */
  readonly random: boolean;
  readonly optimizers: readonly PlanOptimizer[];
  /** The axes that get a CSV column, in AXIS_NAMES order. */
  readonly columns: readonly AxisName[];
  readonly total: number;
  /** Absent unless the config asks for early stopping. */
  readonly earlyStopping?: EarlyStopping;
}

export interface RunSpec {
  readonly id: number;
  readonly optimizer: OptimizerName;
  /** Every hyperparameter, defaults where the optimizer does not use one. */
  readonly hyper: Hyper;
  readonly weightDecay: number;
  /** The effective values of the axes that apply to this run (its CSV cells; absent
   * means blank): the optimizer's hyperparameters, and weight decay when swept. */
  readonly axes: Partial<Record<AxisName, number>>;
  readonly seed: number;
  /** The random-search trial; absent for an optimizer that samples nothing. */
  readonly trial: number | undefined;
  readonly steps: number;
}

type RandomAxis = Extract<Axis, { kind: 'random' }>;

/** Samples already drawn, per axis object and trial (consecutive runs share a trial).
 * Module state, deliberately: `specAt` stays a pure function of (plan, id) (a sample
 * is a pure function of the seed, the label and the trial), and drawing one costs a
 * new rng per run otherwise. Keyed weakly by the plan's axis objects, so it goes with
 * the plan. */
const drawn = new WeakMap<RandomAxis, Map<number, number>>();

function sample(axis: RandomAxis, searchSeed: number, trial: number): number {
  let byTrial = drawn.get(axis);
  if (!byTrial) drawn.set(axis, (byTrial = new Map()));
  let value = byTrial.get(trial);
  if (value === undefined) {
    const u = rng(searchSeed, `${axis.label}:${trial}:${axis.name}`).next();
    value =
      axis.distribution === 'uniform'
        ? axis.min + u * (axis.max - axis.min)
        : Math.exp(Math.log(axis.min) + u * (Math.log(axis.max) - Math.log(axis.min)));
    byTrial.set(trial, value);
  }
  return value;
}

export function gridSize(axes: readonly Axis[]): number {
  let n = 1;
  for (const a of axes) if (a.kind === 'grid') n *= a.values.length;
  return n;
}

/** The optimizer of run `id`. */
export function optimizerAt(plan: Plan, id: number): PlanOptimizer {
  let k = plan.optimizers.length - 1;
  while (plan.optimizers[k].first > id) k--;
  return plan.optimizers[k];
}

/** The run with index `id` (0 ≤ id < plan.total). */
export function specAt(plan: Plan, id: number): RunSpec {
  if (!Number.isInteger(id) || id < 0 || id >= plan.total)
    throw new RangeError(`run ${id} is not in 0 … ${plan.total - 1}`);
  const opt = optimizerAt(plan, id);
  let rest = id - opt.first;
  const seed = plan.seeds[rest % plan.seeds.length];
  rest = Math.floor(rest / plan.seeds.length);
  const trial = rest % opt.trials;
  rest = Math.floor(rest / opt.trials);

  const hyper = defaultHyper(opt.name);
  const axes: Partial<Record<AxisName, number>> = {};
  let weightDecay = 0;
  // Grid digits: the last axis varies fastest.
  for (let a = opt.axes.length - 1; a >= 0; a--) {
    const axis = opt.axes[a];
    let value: number;
    if (axis.kind === 'grid') {
      value = axis.values[rest % axis.values.length];
      rest = Math.floor(rest / axis.values.length);
    } else {
      value = sample(axis, plan.searchSeed, trial);
    }
    if (axis.name === 'weight_decay') {
      weightDecay = value;
      axes.weight_decay = value;
    } else hyper[axis.name] = value;
  }
  for (const name of OPTIMIZERS[opt.name].hyper) axes[name] = hyper[name];
  return {
    id,
    optimizer: opt.name,
    hyper,
    weightDecay,
    axes,
    seed,
    trial: opt.sampled ? trial : undefined,
    steps: plan.steps,
  };
}

/** Runs per optimizer, in config order. */
export function countsByOptimizer(plan: Plan): { optimizer: OptimizerName; runs: number }[] {
  return plan.optimizers.map((o) => ({ optimizer: o.name, runs: o.count }));
}
