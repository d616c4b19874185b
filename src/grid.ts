/**
 * The grid: a validated sweep (a `Plan`, plain data that crosses threads) and its
 * pure, deterministic expansion into runs. Run `id` is the run's index in the
 * expansion order, so it is stable for a given config:
 *
 *   for each optimizer (config order)
 *     for each combination of its grid axes (axis order of AXIS_NAMES, first slowest)
 *       for each combination of the problem axes (the problem's option order)
 *         for each trial (random search; only optimizers with a distribution axis)
 *           for each seed
 *
 * An axis multiplies only the optimizers that use it; a problem axis (a problem
 * option given as a list of values) multiplies every optimizer. A random-search axis is
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

/** A problem option swept over a list of values (as the config gives them). */
export interface ProblemAxis {
  readonly name: string;
  readonly values: readonly unknown[];
}

export interface PlanProblem {
  readonly name: string;
  /** The resolved options; with problem axes, those of the first variant. */
  readonly options: object;
  /** Present only when the config sweeps problem options (so that a plan without
   * them is the plan it always was, fingerprint included). */
  readonly axes?: readonly ProblemAxis[];
  /** The resolved options of every combination of the axes' values, in expansion
   * order (the last axis fastest). */
  readonly variants?: readonly object[];
}

export interface PlanOptimizer {
  readonly name: OptimizerName;
  /** Only the axes this optimizer uses, in AXIS_NAMES order (problem axes apart). */
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
  readonly problem: PlanProblem;
  readonly steps: number;
  readonly seeds: readonly number[];
  /** 1 for a pure grid. */
  readonly trials: number;
  readonly searchSeed: number;
  /** A run is diverged once its loss exceeds this × max(|its starting loss|, 1). */
  readonly divergenceFactor: number;
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
  /** The run's resolved problem options: `plan.problem.options` unless the plan
   * sweeps problem options. */
  readonly problem: object;
  /** The run's value of each problem axis, in `plan.problem.axes` order (its CSV
   * cells); empty without problem axes. */
  readonly problemValues: readonly unknown[];
  readonly seed: number;
  /** The random-search trial; absent for an optimizer that samples nothing. */
  readonly trial: number | undefined;
  readonly steps: number;
  /** The plan's `divergenceFactor`. */
  readonly divergenceFactor: number;
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

/** Combinations of the problem axes' values: 1 when there are none. */
export function variantCount(problem: PlanProblem): number {
  return problem.variants?.length ?? 1;
}

const NO_VALUES: readonly unknown[] = [];

/** The value of each problem axis in variant `v` (the last axis fastest). */
export function variantValues(axes: readonly ProblemAxis[], v: number): unknown[] {
  const values = new Array<unknown>(axes.length);
  for (let a = axes.length - 1; a >= 0; a--) {
    const { values: axis } = axes[a];
    values[a] = axis[v % axis.length];
    v = Math.floor(v / axis.length);
  }
  return values;
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
  const variants = variantCount(plan.problem);
  const variant = rest % variants;
  rest = Math.floor(rest / variants);

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
    problem: plan.problem.variants?.[variant] ?? plan.problem.options,
    problemValues: plan.problem.axes ? variantValues(plan.problem.axes, variant) : NO_VALUES,
    seed,
    trial: opt.sampled ? trial : undefined,
    steps: plan.steps,
    divergenceFactor: plan.divergenceFactor,
  };
}

/** Runs per optimizer, in config order. */
export function countsByOptimizer(plan: Plan): { optimizer: OptimizerName; runs: number }[] {
  return plan.optimizers.map((o) => ({ optimizer: o.name, runs: o.count }));
}
