/**
 * The JSON Schema of a sweep config, generated from the optimizer and problem
 * registries so that the ranges and defaults are stated once. `npm run schema`
 * writes it to configs/sweep.schema.json (a test checks that file is current);
 * the loader validates every config against this same object.
 */
import { join } from 'node:path';
import { HYPER, HYPER_NAMES, OPTIMIZERS, OPTIMIZER_NAMES, type Range } from '../optimizers/index.js';
import { PROBLEMS, PROBLEM_NAMES } from '../problems/index.js';
import { ROOT } from '../paths.js';

/** Axes that every optimizer takes, besides its own hyperparameters. */
export const WEIGHT_DECAY = 'weight_decay';
export const WEIGHT_DECAY_RANGE: Range = { min: 0, exclusiveMin: false };
export const DISTRIBUTIONS = ['log-uniform', 'uniform'] as const;
export type DistributionName = (typeof DISTRIBUTIONS)[number];

function rangeSchema(range: Range): Record<string, number> {
  const s: Record<string, number> = range.exclusiveMin ? { exclusiveMinimum: range.min } : { minimum: range.min };
  if (range.exclusiveMax !== undefined) s.exclusiveMaximum = range.exclusiveMax;
  return s;
}

function axisSchema(range: Range, doc: string): Record<string, unknown> {
  const value = { type: 'number', ...rangeSchema(range) };
  return {
    description: `${doc}: a value, a list of values (grid), or a distribution (random search)`,
    anyOf: [
      value,
      { type: 'array', items: value, minItems: 1 },
      {
        type: 'object',
        properties: {
          distribution: { enum: [...DISTRIBUTIONS] },
          min: value,
          max: value,
        },
        required: ['distribution', 'min', 'max'],
        additionalProperties: false,
      },
    ],
  };
}

const axes: Record<string, unknown> = {};
for (const name of HYPER_NAMES) axes[name] = axisSchema(HYPER[name].range, HYPER[name].doc);
axes[WEIGHT_DECAY] = axisSchema(WEIGHT_DECAY_RANGE, 'L2 weight decay λ (all optimizers)');

export const AXIS_NAMES = [...HYPER_NAMES, WEIGHT_DECAY];

/** A run is diverged once its loss exceeds this multiple of max(|starting loss|, 1)
 * (see run.ts): far beyond any descent, short of the overflow that would otherwise
 * end it, so that an exploding run is not ranked as `ok`. */
export const DEFAULT_DIVERGENCE_FACTOR = 1e6;

/** Steps are counted in Int32 slots (the live progress, diverged_at). */
export const MAX_STEPS = 2 ** 31 - 1;

/** Early stopping (src/early.ts): one object per method, each with its own fields. */
export const EARLY_STOPPING_METHODS = ['successive-halving', 'hyperband', 'median'] as const;
const positiveSteps = (doc: string) => ({ type: 'integer', minimum: 1, maximum: MAX_STEPS, description: doc });
const halving = (method: string, doc: string) => ({
  type: 'object',
  description: doc,
  properties: {
    method: { const: method },
    min_steps: positiveSteps('updates at the first rung; rungs at min_steps · reduction^k below steps'),
    reduction: { type: 'integer', minimum: 2, description: 'keep the best 1/reduction at each rung (default 3)' },
  },
  required: ['method', 'min_steps'],
  additionalProperties: false,
});
const earlyStopping = {
  description: 'stop hopeless runs early, deterministically (the same CSV for any number of workers)',
  type: 'object',
  properties: { method: { enum: [...EARLY_STOPPING_METHODS] } },
  required: ['method'],
  allOf: [
    {
      if: { properties: { method: { const: 'successive-halving' } }, required: ['method'] },
      then: halving('successive-halving', 'synchronous successive halving over rungs'),
    },
    {
      if: { properties: { method: { const: 'hyperband' } }, required: ['method'] },
      then: halving('hyperband', 'brackets of successive halving over the same rungs'),
    },
    {
      if: { properties: { method: { const: 'median' } }, required: ['method'] },
      then: {
        type: 'object',
        description: 'stop a configuration worse than the median of its cohort at a checkpoint',
        properties: {
          method: { const: 'median' },
          warmup_steps: positiveSteps('updates before the first checkpoint'),
          every: positiveSteps('updates between checkpoints'),
        },
        required: ['method', 'warmup_steps', 'every'],
        additionalProperties: false,
      },
    },
  ],
};

const optimizerEntry = {
  anyOf: [
    { enum: OPTIMIZER_NAMES, description: 'an optimizer with the sweep-wide axes' },
    {
      type: 'object',
      description: 'an optimizer with its own values for some axes',
      properties: { name: { enum: OPTIMIZER_NAMES }, ...axes },
      required: ['name'],
      additionalProperties: false,
    },
  ],
};

/** Whether a problem option's own value is a list (so that an axis of it is a list of lists). */
export function isListOption(schema: unknown): boolean {
  return (schema as { type?: unknown }).type === 'array';
}

/**
 * A problem option as a config may give it: a value, or a non-empty list of values
 * (a problem axis, swept like the optimizer axes; for an option that is itself a
 * list, such as `hidden`, a list of lists). The option's description and default
 * stay outside, so editors show them.
 */
export function problemOptionSchema(option: Record<string, unknown>): Record<string, unknown> {
  const { description, default: fallback, ...value } = option;
  return {
    ...(description !== undefined && { description: `${String(description)}; a list of values sweeps it` }),
    ...(fallback !== undefined && { default: fallback }),
    anyOf: [value, { type: 'array', items: value, minItems: 1 }],
  };
}

const builtIn = {
  properties: { name: { enum: PROBLEM_NAMES } },
  required: ['name'],
  allOf: PROBLEM_NAMES.map((name) => ({
    // `required`: without it the `if` holds for a problem with no name at all.
    if: { properties: { name: { const: name } }, required: ['name'] },
    then: {
      description: PROBLEMS[name].doc,
      properties: {
        name: { const: name },
        ...Object.fromEntries(
          Object.entries(PROBLEMS[name].optionsSchema).map(([key, option]) => [
            key,
            problemOptionSchema(option as Record<string, unknown>),
          ]),
        ),
      },
      additionalProperties: false,
    },
  })),
};

/** A user's module: its other fields are its own options, free-form. */
const userModule = {
  properties: {
    module: {
      type: 'string',
      minLength: 1,
      description:
        'an ES module of your own (path relative to this config, or absolute) whose default export gives dim(options), start(options, seed) and evaluate(W, grad, options) or loss(W, options); the other fields are its options',
    },
  },
};

const problem = {
  type: 'object',
  description: `the loss to minimise: {"name": ${PROBLEM_NAMES.join(' | ')}, options…}, or {"module": "./my-problem.mjs", options…} for one of your own`,
  if: { properties: { module: {} }, required: ['module'] },
  then: userModule,
  else: builtIn,
};

export const CONFIG_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://github.com/sweep/sweep/configs/sweep.schema.json',
  title: 'sweep config',
  description: `A hyperparameter sweep. Optimizers: ${Object.keys(OPTIMIZERS).join(', ')}.`,
  type: 'object',
  properties: {
    $schema: { type: 'string' },
    name: {
      type: 'string',
      minLength: 1,
      pattern: '^[A-Za-z0-9._-]+$',
      description: 'names the output file results/<name>-<time>.csv',
    },
    problem,
    optimizers: { type: 'array', items: optimizerEntry, minItems: 1, description: 'the optimizers to sweep' },
    ...axes,
    steps: { type: 'integer', minimum: 1, maximum: MAX_STEPS, description: 'updates per run' },
    seeds: {
      description: 'seeds of the runs: each combination runs once per seed',
      anyOf: [
        { type: 'integer', minimum: 0 },
        { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1 },
      ],
    },
    trials: {
      type: 'integer',
      minimum: 1,
      description: 'random search: samples drawn from the distribution axes (needs at least one)',
    },
    search_seed: {
      type: 'integer',
      minimum: 0,
      description: 'random search: the seed of the samples; default 0',
    },
    early_stopping: earlyStopping,
    divergence_factor: {
      type: 'number',
      minimum: 1,
      description: `a run is diverged once its loss exceeds divergence_factor × max(|its starting loss|, 1), or is NaN or ±Inf; default ${DEFAULT_DIVERGENCE_FACTOR}`,
    },
  },
  required: ['name', 'problem', 'optimizers', 'steps'],
  additionalProperties: false,
} as const;

/** Where the schema is shipped, for editors (`"$schema": "./sweep.schema.json"`). */
export const SCHEMA_FILE = join(ROOT, 'configs', 'sweep.schema.json');
export const schemaText = (): string => `${JSON.stringify(CONFIG_SCHEMA, null, 2)}\n`;
