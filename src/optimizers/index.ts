/**
 * The optimizer registry and the one place hyperparameters are defined: their
 * defaults (the book's) and the rule each value must satisfy.
 */
import { adagrad } from './adagrad.js';
import { adam } from './adam.js';
import { momentum } from './momentum.js';
import { nesterov } from './nesterov.js';
import { rmsprop } from './rmsprop.js';
import { sgd } from './sgd.js';
import type { Hyper, HyperName, Optimizer } from './types.js';

export type { Hyper, HyperName, OptState, Optimizer, Params } from './types.js';

export const OPTIMIZERS = { sgd, momentum, nesterov, adagrad, rmsprop, adam } as const satisfies Record<
  string,
  Optimizer
>;
export type OptimizerName = keyof typeof OPTIMIZERS;
export const OPTIMIZER_NAMES = Object.keys(OPTIMIZERS) as OptimizerName[];

export function isOptimizerName(name: string): name is OptimizerName {
  return Object.hasOwn(OPTIMIZERS, name);
}

/** A numeric range rule, stated once: the JSON Schema (and so every message) derives from it. */
export interface Range {
  /** Inclusive lower bound, or exclusive when `exclusiveMin`. */
  min: number;
  exclusiveMin: boolean;
  /** Exclusive upper bound, if any. */
  exclusiveMax?: number;
}

export interface HyperSpec {
  readonly default: number;
  /** Default per optimizer where the book's differs (Adam's η is 0.001). */
  readonly defaultFor?: Partial<Record<OptimizerName, number>>;
  readonly range: Range;
  readonly doc: string;
}

export const HYPER: Record<HyperName, HyperSpec> = {
  lr: {
    default: 0.01,
    defaultFor: { adam: 0.001 },
    range: { min: 0, exclusiveMin: true },
    doc: 'learning rate η',
  },
  momentum: {
    default: 0.9,
    range: { min: 0, exclusiveMin: false, exclusiveMax: 1 },
    doc: 'momentum coefficient α (momentum, nesterov)',
  },
  rho: {
    default: 0.99,
    range: { min: 0, exclusiveMin: false, exclusiveMax: 1 },
    doc: 'decay ρ of the squared-gradient average (rmsprop)',
  },
  beta1: {
    default: 0.9,
    range: { min: 0, exclusiveMin: false, exclusiveMax: 1 },
    doc: "decay β₁ of Adam's first moment",
  },
  beta2: {
    default: 0.999,
    range: { min: 0, exclusiveMin: false, exclusiveMax: 1 },
    doc: "decay β₂ of Adam's second moment",
  },
  eps: {
    default: 1e-7,
    range: { min: 0, exclusiveMin: true },
    doc: 'ε added to the root in the denominator (adagrad, rmsprop, adam)',
  },
};

export const HYPER_NAMES = Object.keys(HYPER) as HyperName[];

const DEFAULTS = Object.fromEntries(
  OPTIMIZER_NAMES.map((optimizer) => {
    const h = {} as Hyper;
    for (const name of HYPER_NAMES) h[name] = HYPER[name].defaultFor?.[optimizer] ?? HYPER[name].default;
    return [optimizer, Object.freeze(h)];
  }),
) as Record<OptimizerName, Readonly<Hyper>>;

/** The book's hyperparameters for `optimizer` (a fresh copy, built field by field:
 * one object shape for every run). */
export function defaultHyper(optimizer: OptimizerName): Hyper {
  const d = DEFAULTS[optimizer];
  return { lr: d.lr, momentum: d.momentum, rho: d.rho, beta1: d.beta1, beta2: d.beta2, eps: d.eps };
}
