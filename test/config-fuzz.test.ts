/**
 * Property-based tests of the config loader (fast-check): valid configs, mutated at
 * random (a key deleted, a value replaced by one of another type, a key added, a
 * number made zero, negative, huge or not a number, the text cut short or sprinkled
 * with characters), must each either parse to a Plan that runs, or fail cleanly with
 * a ConfigError whose message is one line starting with the file name. Never another
 * exception, never a crash.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { Arena } from '../src/arena.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { ConfigError } from '../src/errors.js';
import { specAt, type Plan } from '../src/grid.js';
import { OPTIMIZER_NAMES } from '../src/optimizers/index.js';
import { PROBLEMS, problemDef } from '../src/problems/index.js';
import { loadModule } from '../src/problems/module.js';
import { rng } from '../src/rng.js';
import { maxMemoryNeeded, runOne, workspace } from '../src/run.js';

const CONFIGS = fileURLToPath(new URL('../configs/', import.meta.url));
const FILE = 'fuzz/config.json';
/** Checked with the loader's limit lowered, so that the limit is exercised too. */
const MAX_RUNS = 5_000;
/** Plans this small have every run's spec checked... */
const SPEC_ALL_RUNS = 2_000;
/** ...and, when a run costs at most this many parameter updates, two of them run here. */
const RUN_UPDATES = 100_000;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A config whose problem module is relative to `dir`, with the module's absolute
 * path instead: the seeds are parsed as if from elsewhere (FILE). */
function withModuleFrom(dir: string, config: Json): Json {
  const c = config as { problem: { module?: string } };
  if (typeof c.problem.module === 'string') c.problem.module = join(dir, c.problem.module);
  return config;
}

/** The modules the seeds name, imported before the loader is fuzzed (parseConfig is
 * synchronous: what it reads must be imported already, as configPlan does). */
beforeAll(async () => {
  for (const seed of SEEDS) {
    const module = (seed as { problem: { module?: string } }).problem.module;
    if (module) await loadModule(module);
  }
});

/** The shipped configs (not the schema), and a few more that reach other features. */
const SEEDS: Json[] = [
  ...readdirSync(CONFIGS)
    .filter((f) => f.endsWith('.json') && f !== 'sweep.schema.json')
    .map((f) => withModuleFrom(CONFIGS, JSON.parse(readFileSync(join(CONFIGS, f), 'utf8')) as Json)),
  {
    name: 'quad-small',
    problem: { name: 'quadratic', dim: 20, condition: 10 },
    optimizers: ['sgd', { name: 'adam', lr: [0.01, 0.1], beta1: 0.8 }],
    lr: [0.05, 0.5],
    weight_decay: [0, 0.001],
    steps: 25,
    seeds: [0, 3, 7],
  },
  {
    name: 'ros-random',
    problem: { name: 'rosenbrock', dim: 4 },
    optimizers: ['momentum', { name: 'rmsprop', rho: { distribution: 'uniform', min: 0.8, max: 0.99 } }, 'adagrad'],
    lr: { distribution: 'log-uniform', min: 0.0001, max: 0.1 },
    momentum: [0.5, 0.9],
    eps: 1e-8,
    trials: 3,
    search_seed: 11,
    steps: 40,
    seeds: 2,
  },
  {
    name: 'bowl-start',
    problem: { name: 'anisotropic-bowl', start: [3, -4] },
    optimizers: ['nesterov', 'sgd'],
    lr: 0.1,
    momentum: 0.7,
    steps: 10,
  },
];

/** Keys worth adding: real ones in the wrong place, near-misses, and troublemakers. */
const KEYS = [
  'lr',
  'momentum',
  'rho',
  'beta1',
  'beta2',
  'eps',
  'weight_decay',
  'trials',
  'search_seed',
  'seeds',
  'steps',
  'name',
  'problem',
  'optimizers',
  'dim',
  'start',
  'condition',
  'distribution',
  'min',
  'max',
  'lrr',
  'stpes',
  'optimiser',
  '$schema',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '',
  ' ',
  'a\nb',
  'tab\there',
  '\u0000',
  '=cmd',
  'é',
  '0',
  '-1',
];

/** Numbers and number-like values that break rules: zero, negative, huge, not a number. */
const NUMBERISH: Json[] = [
  0,
  -0,
  -1,
  -0.5,
  0.5,
  1,
  1.5,
  2,
  1e-320,
  1e-9,
  1e9,
  1e15,
  2 ** 53,
  1e300,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  'NaN',
  'Infinity',
  '-Infinity',
  '1e999',
  '0',
  '-0',
  '',
  null,
  true,
];

/** Raw tokens put in the text where a number was: some are not JSON at all. */
const RAW_NUMBERS = [
  '1e999',
  '-1e999',
  'NaN',
  'Infinity',
  '-0',
  '0.0',
  '1e-400',
  '00',
  '.5',
  '+1',
  '0x10',
  '1e',
  '--1',
];

const jsonValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json> },
  { weight: 2, arbitrary: fc.constantFrom(...NUMBERISH) },
  { weight: 1, arbitrary: fc.constantFrom<Json>(...OPTIMIZER_NAMES, ...Object.keys(PROBLEMS), 'adamw', 'bowl') },
  {
    weight: 1,
    arbitrary: fc.record({
      distribution: fc.constantFrom('uniform', 'log-uniform', 'normal'),
      min: fc.constantFrom<Json>(0, 1e-4, 0.5, 1, -1),
      max: fc.constantFrom<Json>(0, 0.1, 1, 2, 1e308),
    }) as fc.Arbitrary<Json>,
  },
  { weight: 1, arbitrary: fc.array(fc.constantFrom<Json>(0.1, 0.01, 0.1, 0, -1, 2, 'sgd'), { maxLength: 4 }) },
);

const key: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...KEYS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
);

type Mutation =
  | { kind: 'delete'; at: number }
  | { kind: 'replace'; at: number; value: Json }
  | { kind: 'number'; at: number; value: Json }
  | { kind: 'add'; at: number; key: string; value: Json };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: jsonValue }),
  fc.record({ kind: fc.constant('number' as const), at: fc.nat(), value: fc.constantFrom(...NUMBERISH) }),
  fc.record({ kind: fc.constant('add' as const), at: fc.nat(), key, value: jsonValue }),
);

type Path = (string | number)[];

/** Every place in a JSON value: the paths of its members, deepest included. */
function paths(value: Json, here: Path = []): Path[] {
  const out: Path[] = [here];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...here, i])));
  else if (value !== null && typeof value === 'object')
    for (const k of Object.keys(value)) out.push(...paths(value[k], [...here, k]));
  return out;
}

function get(root: Json, path: Path): Json {
  let v: any = root;
  for (const p of path) v = v[p];
  return v;
}

/** Sets an own property, even "__proto__" (plain assignment would set the prototype). */
function put(target: object, k: string | number, value: Json): void {
  Object.defineProperty(target, k, { value, enumerable: true, writable: true, configurable: true });
}

function mutate(root: Json, m: Mutation): Json {
  const all = paths(root);
  const path = all[m.at % all.length];
  if (m.kind === 'add') {
    const containers = all.filter((p) => {
      const v = get(root, p);
      return v !== null && typeof v === 'object';
    });
    if (containers.length === 0) return root;
    const target = get(root, containers[m.at % containers.length]);
    if (Array.isArray(target)) target.splice(m.at % (target.length + 1), 0, m.value);
    else put(target as object, m.key, m.value);
    return root;
  }
  if (m.kind === 'number') {
    // One of the config's numbers, whichever `at` picks.
    const numbers = all.filter((p) => p.length > 0 && typeof get(root, p) === 'number');
    if (numbers.length === 0) return root;
    const target = numbers[m.at % numbers.length];
    const holder = get(root, target.slice(0, -1)) as any;
    put(holder, target[target.length - 1], m.value);
    return root;
  }
  if (path.length === 0) return m.kind === 'delete' ? {} : m.value; // the whole config
  const parent = get(root, path.slice(0, -1)) as Json[] | Record<string, Json>;
  const last = path[path.length - 1];
  if (m.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last as string];
    return root;
  }
  put(parent as object, last, m.value);
  return root;
}

const clone = (v: Json): Json => JSON.parse(JSON.stringify(v)) as Json;

/** The outcome the property demands: a clean ConfigError, or a Plan that runs. */
function check(text: string): 'plan' | 'error' {
  let plan: Plan;
  try {
    plan = parseConfig(text, FILE, { maxRuns: MAX_RUNS });
  } catch (e) {
    if (!(e instanceof ConfigError)) {
      throw new Error(
        `not a ConfigError: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\nconfig: ${text}`,
        { cause: e },
      );
    }
    const m = e.message;
    if (!m.startsWith(`${FILE}: `))
      throw new Error(`message does not start with the file: ${JSON.stringify(m)}\nconfig: ${text}`, { cause: e });
    if (/[\r\n\u2028\u2029]/.test(m))
      throw new Error(`message is not one line: ${JSON.stringify(m)}\nconfig: ${text}`, { cause: e });
    if (m.length <= FILE.length + 2) throw new Error(`empty message: ${JSON.stringify(m)}`, { cause: e });
    return 'error';
  }
  checkPlan(plan, text);
  return 'plan';
}

function checkPlan(plan: Plan, text: string): void {
  const fail = (why: string): never => {
    throw new Error(`${why}\nconfig: ${text}`);
  };
  if (!Number.isInteger(plan.total) || plan.total < 1 || plan.total > MAX_RUNS) fail(`bad total ${plan.total}`);
  if (!Number.isInteger(plan.steps) || plan.steps < 1) fail(`bad steps ${plan.steps}`);
  const def = problemDef(plan.problem);
  if (!def) fail(`unknown problem ${plan.problem.name}`);
  if (plan.total > SPEC_ALL_RUNS) return;
  const names = new Set(plan.optimizers.map((o) => o.name));
  for (let id = 0; id < plan.total; id++) {
    const spec = specAt(plan, id);
    if (spec.id !== id || !names.has(spec.optimizer) || !plan.seeds.includes(spec.seed))
      fail(`bad spec ${JSON.stringify(spec)}`);
    for (const [name, v] of Object.entries(spec.hyper))
      if (typeof v !== 'number' || Number.isNaN(v)) fail(`run ${id}: ${name} is ${v}`);
  }
  const dim = def.dim(plan.problem.options);
  if (def.load || dim * plan.steps > RUN_UPDATES) return;
  for (const id of new Set([0, plan.total - 1])) {
    const spec = specAt(plan, id);
    const problem = def.create(plan.problem.options, {
      seed: spec.seed,
      rng: (label) => rng(spec.seed, label),
      data: undefined,
      arena: Arena.create(def.scratchBytes?.(plan.problem.options) ?? 0),
    });
    const ws = workspace(new Float64Array(maxMemoryNeeded(dim)), dim, spec.optimizer);
    const r = runOne(spec, problem, ws);
    if (r.status !== 'ok' && r.status !== 'diverged') fail(`run ${id} ended ${r.status}: ${r.error}`);
  }
}

/** Tally of outcomes, so that a property that only ever hits one branch shows. */
function tally(): { plan: number; error: number; add(o: 'plan' | 'error'): void } {
  const t = {
    plan: 0,
    error: 0,
    add(o: 'plan' | 'error') {
      t[o]++;
    },
  };
  return t;
}

describe('the seeds themselves', () => {
  it.each(SEEDS.map((s) => [(s as { name: string }).name, s] as const))('%s parses to a plan', (_name, seed) => {
    expect(check(JSON.stringify(seed))).toBe('plan');
  });
});

describe('fuzzing the config loader', () => {
  it('mutated values: each config parses and runs, or fails with a one-line ConfigError', () => {
    const t = tally();
    fc.assert(
      fc.property(fc.nat(SEEDS.length - 1), fc.array(mutation, { minLength: 1, maxLength: 3 }), (s, ms) => {
        let config = clone(SEEDS[s]);
        for (const m of ms) config = mutate(config, m);
        t.add(check(JSON.stringify(config)));
      }),
      { numRuns: 3000 },
    );
    // Both outcomes occur: the mutations are neither all harmless nor all fatal.
    expect(t.plan).toBeGreaterThan(100);
    expect(t.error).toBeGreaterThan(100);
  });

  it('a single number made zero, negative, huge or not a number', () => {
    const t = tally();
    fc.assert(
      fc.property(fc.nat(SEEDS.length - 1), fc.nat(), fc.constantFrom(...NUMBERISH), (s, at, value) => {
        t.add(check(JSON.stringify(mutate(clone(SEEDS[s]), { kind: 'number', at, value }))));
      }),
      { numRuns: 1000 },
    );
    expect(t.error).toBeGreaterThan(0);
  });

  it('text cut short at any offset: a ConfigError with line and column', () => {
    fc.assert(
      fc.property(fc.nat(SEEDS.length - 1), fc.nat(), fc.boolean(), (s, at, pretty) => {
        const text = JSON.stringify(SEEDS[s], null, pretty ? 2 : undefined);
        const cut = text.slice(0, at % text.length); // always short of the closing brace
        let error: unknown;
        try {
          parseConfig(cut, FILE);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(ConfigError);
        const m = (error as Error).message;
        expect(m.startsWith(`${FILE}: is not valid JSON: `), m).toBe(true);
        expect(m).toMatch(/at line \d+, column \d+$/);
        expect(m).not.toMatch(/[\r\n]/);
      }),
      { numRuns: 1000 },
    );
  });

  it('random characters inserted into the text', () => {
    const t = tally();
    const chars = fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }),
      fc.constantFrom(
        '{',
        '}',
        '[',
        ']',
        ',',
        ':',
        '"',
        '\\',
        '\n',
        '-',
        '0',
        'e',
        '1e999',
        'NaN',
        '//',
        '/*',
        '\u0000',
        '\ufeff',
      ),
    );
    fc.assert(
      fc.property(
        fc.nat(SEEDS.length - 1),
        fc.array(fc.tuple(fc.nat(), chars), { minLength: 1, maxLength: 3 }),
        (s, inserts) => {
          let text = JSON.stringify(SEEDS[s], null, 2);
          for (const [at, c] of inserts) {
            const i = at % (text.length + 1);
            text = text.slice(0, i) + c + text.slice(i);
          }
          t.add(check(text));
        },
      ),
      { numRuns: 1500 },
    );
    expect(t.error).toBeGreaterThan(0);
  });

  it('a number token replaced in the text by a raw token (1e999, NaN, -0, 0x10, …)', () => {
    const t = tally();
    fc.assert(
      fc.property(fc.nat(SEEDS.length - 1), fc.nat(), fc.constantFrom(...RAW_NUMBERS), (s, at, raw) => {
        const text = JSON.stringify(SEEDS[s], null, 2);
        const numbers = [...text.matchAll(/-?\d+(\.\d+)?([eE][+-]?\d+)?/g)];
        const n = numbers[at % numbers.length];
        const mutated = text.slice(0, n.index) + raw + text.slice(n.index! + n[0].length);
        t.add(check(mutated));
      }),
      { numRuns: 1000 },
    );
    expect(t.error).toBeGreaterThan(0);
  });
});
