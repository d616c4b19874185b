/**
 * A problem of the user's own: an ES module whose default export is
 *
 *     { dim(options), start(options, seed), evaluate(W, grad, options) }
 *
 * or `loss(W, options)` instead of `evaluate`; then the gradient is taken by central
 * differences, as the book's `numerical_gradient` does (h = 1e-4): 2·dim + 1 calls
 * of `loss` per step. A config names it `"problem": {"module": "./himmelblau.mjs",
 * …}`; its other problem fields are the `options` every function gets.
 *
 * The plan holds the module's absolute path, those options and `dim(options)`, so
 * that everything but a run (batch sizes, columns, memory) is known without the
 * module. Every thread that creates an instance imports the module first with
 * `loadModule`, once: the coordinator when it reads the config (and checks `dim` and
 * `start` for every seed there, before anything runs), each worker before its first
 * batch (protocol.ts, `loadProblemCode`).
 */
import { existsSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { show } from '../errors.js';
import { coordinateNames, type ProblemDef } from './types.js';

/** The problem name a plan gives a user's module. */
export const MODULE = 'module';

/** The step of the central differences, the book's `numerical_gradient` h. */
export const NUMERICAL_H = 1e-4;

type Options = Record<string, unknown>;

/** What the module's default export gives. */
export interface UserProblem {
  dim(options: Options): number;
  start(options: Options, seed: number): ArrayLike<number>;
  evaluate?(W: Float64Array, grad: Float64Array, options: Options): number;
  loss?(W: Float64Array, options: Options): number;
}

export interface ModuleOptions {
  /** Absolute path of the module. */
  readonly module: string;
  /** The config's other problem fields, given to the module's functions. */
  readonly options: Options;
  /** `dim(options)`, asked when the config was read. */
  readonly dim: number;
}

/** A module that cannot serve as a problem; the message says why, in one line. */
export class ModuleError extends Error {
  override readonly name = 'ModuleError';
}

/** Each module's checked default export, by absolute path, as this thread loaded it.
 * (State per thread, as `import` itself keeps: a module is loaded once.) */
const loaded = new Map<string, UserProblem>();
const loading = new Map<string, Promise<UserProblem>>();

/** The module's path: `written` as the config gives it, relative to the config file. */
export const modulePath = (written: string, configFile: string): string =>
  isAbsolute(written) ? written : resolve(configFile, '..', written);

/** A path for a message: relative to the working folder when inside it. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

export const isLoaded = (path: string): boolean => loaded.has(path);

/** Imports the module at `path` (absolute) and checks its default export; throws
 * `ModuleError`. Once per thread and path. */
export function loadModule(path: string): Promise<UserProblem> {
  let p = loading.get(path);
  if (!p) {
    p = importChecked(path);
    loading.set(path, p);
    p.then(
      (problem) => loaded.set(path, problem),
      () => loading.delete(path),
    );
  }
  return p;
}

const firstLine = (e: unknown): string =>
  (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).split('\n')[0].trim();

async function importChecked(path: string): Promise<UserProblem> {
  if (!existsSync(path)) throw new ModuleError(`does not exist (${path})`);
  let namespace: { default?: unknown };
  try {
    namespace = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (e) {
    throw new ModuleError(`cannot be imported: ${firstLine(e)}`);
  }
  const p = namespace.default as Record<string, unknown> | undefined;
  const shape = 'export default { dim(options), start(options, seed), evaluate(W, grad, options) or loss(W, options) }';
  if (p === undefined) throw new ModuleError(`has no default export; it needs ${shape}`);
  if (typeof p !== 'object' || p === null)
    throw new ModuleError(`its default export must be an object, got ${show(p)}; it needs ${shape}`);
  for (const f of ['dim', 'start'])
    if (typeof p[f] !== 'function')
      throw new ModuleError(
        `its default export has no ${f} function${p[f] === undefined ? '' : ` (got ${show(p[f])})`}; it needs ${shape}`,
      );
  for (const f of ['evaluate', 'loss'])
    if (p[f] !== undefined && typeof p[f] !== 'function')
      throw new ModuleError(`its default export's ${f} must be a function, got ${show(p[f])}`);
  if (p.evaluate === undefined && p.loss === undefined)
    throw new ModuleError('its default export has neither evaluate(W, grad, options) nor loss(W, options)');
  return p as unknown as UserProblem;
}

/** The loaded module at `path`, where a config is read (the coordinator). */
function imported(path: string): UserProblem {
  const p = loaded.get(path);
  if (!p)
    throw new ModuleError('was not imported first (read configs that name a module with loadConfig or configPlan)');
  return p;
}

/** The loaded module at `path`, where a run is made (a worker). */
function loadedHere(path: string): UserProblem {
  const p = loaded.get(path);
  if (!p) throw new Error(`the problem module ${path} is not loaded in this thread (loadProblemCode first)`);
  return p;
}

/** Calls one of the module's functions; what it throws becomes a ModuleError naming the call. */
function call<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new ModuleError(`${what} threw ${firstLine(e)}`);
  }
}

/** `start(options, seed)` as a checked Float64Array of `dim` finite values. */
function startOf(p: UserProblem, o: ModuleOptions, seed: number): Float64Array {
  const what = `start(options, ${seed})`;
  const s = call(what, () => p.start(o.options, seed));
  if (s === null || typeof s !== 'object' || typeof s.length !== 'number')
    throw new ModuleError(`${what} must return an array of ${o.dim} numbers, got ${show(s)}`);
  if (s.length !== o.dim) throw new ModuleError(`${what} returned ${s.length} values, but dim(options) is ${o.dim}`);
  const W = new Float64Array(o.dim);
  for (let i = 0; i < o.dim; i++) {
    const v = s[i];
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new ModuleError(`${what}[${i}] must be a finite number, got ${show(v)}`);
    W[i] = v;
  }
  return W;
}

const sameValues = (a: Float64Array, b: Float64Array): boolean => a.every((v, i) => Object.is(v, b[i]));

/** The loss a module's function returned, which must be a number (NaN and ±Inf are
 * numbers: the run loop counts them as divergence). */
function lossValue(what: string, value: unknown): number {
  if (typeof value !== 'number') throw new TypeError(`${what} returned ${show(value)}, not a number`);
  return value;
}

/** The loss and, into g, its gradient by central differences (the book's
 * numerical_gradient): W[i] ± h, restored exactly after each pair of calls. */
function numericalGradient(loss: (W: Float64Array) => number): (W: Float64Array, g: Float64Array) => number {
  const h = NUMERICAL_H;
  return (W, g) => {
    for (let i = 0; i < W.length; i++) {
      const w = W[i];
      W[i] = w + h;
      const above = loss(W);
      W[i] = w - h;
      const below = loss(W);
      W[i] = w;
      g[i] = (above - below) / (2 * h);
    }
    return loss(W);
  };
}

export const moduleProblem: ProblemDef<ModuleOptions> = {
  name: MODULE,
  doc: 'a problem of your own: an ES module whose default export gives dim, start, and evaluate or loss',
  optionsSchema: {},
  resolve(options) {
    const { module, ...rest } = options as { module: string } & Options;
    const p = imported(module);
    const dim = call('dim(options)', () => p.dim(rest));
    if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 1)
      throw new ModuleError(`dim(options) must return an integer >= 1, got ${show(dim)}`);
    return { module, options: rest, dim };
  },
  check(o, seeds) {
    const p = imported(o.module);
    for (const seed of seeds)
      if (!sameValues(startOf(p, o, seed), startOf(p, o, seed)))
        throw new ModuleError(
          `start(options, ${seed}) returned two different points for the same seed; it must depend only on options and seed (no Math.random), or sweeps would not repeat`,
        );
  },
  ignoresSeed(o, seeds) {
    const p = imported(o.module);
    const first = startOf(p, o, seeds[0]);
    return seeds.every((seed) => sameValues(startOf(p, o, seed), first));
  },
  describe: (o) => displayPath(o.module),
  config: (o) => ({ module: o.module, ...o.options }),
  dim: (o) => o.dim,
  metrics: (o) => coordinateNames(o.dim),
  trajectory: (o) => coordinateNames(o.dim),
  create(o, { seed }) {
    const p = loadedHere(o.module);
    const { dim, options } = o;
    const start = startOf(p, o, seed);
    const traced = coordinateNames(dim).length > 0;
    const { evaluate, loss } = p;
    // A user's problem computes in float64: the run loop gives it Float64Arrays.
    const lossAndGrad: (W: Float64Array, g: Float64Array) => number = evaluate
      ? (W, g) => {
          g.fill(0);
          return lossValue('evaluate(W, grad, options)', evaluate.call(p, W, g, options));
        }
      : numericalGradient((W) => lossValue('loss(W, options)', loss!.call(p, W, options)));
    return {
      dim,
      decayed: [[0, dim]],
      init: (W) => W.set(start),
      lossAndGrad(W: Float64Array, g: Float64Array) {
        return lossAndGrad(W, g);
      },
      finish: (W) => (traced ? Array.from(W) : []),
    };
  },
};
