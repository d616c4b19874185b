/**
 * Reading a config: JSON → schema check (ajv, against CONFIG_SCHEMA) → the rules a
 * schema cannot state → a `Plan`. Every failure is a `ConfigError` naming the file,
 * the field and the value; nothing runs before the whole config is valid.
 */
import { readFile } from 'node:fs/promises';
import AjvModule, { type ErrorObject } from 'ajv';
import { parse as parseTolerant, printParseErrorCode, visit, type ParseError } from 'jsonc-parser';
import { MAX_ARENA_BYTES } from '../arena.js';
import { runBytes } from '../batch.js';
import { ConfigError, closest, show, showKey } from '../errors.js';
import type { Axis, AxisName, EarlyStopping, Plan, PlanOptimizer, PlanProblem, ProblemAxis } from '../grid.js';
import { gridSize, variantValues } from '../grid.js';
import { OPTIMIZERS, type OptimizerName } from '../optimizers/index.js';
import { OptionError, PROBLEMS, problemDef } from '../problems/index.js';
import { MODULE, ModuleError, loadModule, modulePath } from '../problems/module.js';
import {
  AXIS_NAMES,
  CONFIG_SCHEMA,
  DEFAULT_DIVERGENCE_FACTOR,
  WEIGHT_DECAY,
  isListOption,
  type DistributionName,
} from './schema.js';

const Ajv = AjvModule.default;
const validateSchema = new Ajv({ allErrors: false, verbose: true, strict: true, allowUnionTypes: true }).compile(
  CONFIG_SCHEMA,
);

type AxisValue = number | number[] | { distribution: DistributionName; min: number; max: number };

interface RawConfig {
  name: string;
  /** A built-in problem by `name`, or a user's by `module` (the schema admits one). */
  problem: { name?: string; module?: string } & Record<string, unknown>;
  optimizers: (OptimizerName | ({ name: OptimizerName } & Partial<Record<AxisName, AxisValue>>))[];
  steps: number;
  seeds?: number | number[];
  trials?: number;
  search_seed?: number;
  early_stopping?: RawEarlyStopping;
  divergence_factor?: number;
  [axis: string]: unknown;
}

type RawEarlyStopping =
  | { method: 'successive-halving' | 'hyperband'; min_steps: number; reduction?: number }
  | { method: 'median'; warmup_steps: number; every: number };

/** Successive halving keeps the best third by default, as Optuna and Ray Tune do. */
export const DEFAULT_REDUCTION = 3;

function toEarlyStopping(raw: RawEarlyStopping, steps: number, file: string): EarlyStopping {
  const below = (field: string, value: number) => {
    if (value >= steps)
      throw new ConfigError(
        file,
        `early_stopping.${field}`,
        `must be below steps (${steps}): no run would stop early, got ${value}`,
      );
  };
  if (raw.method === 'median') {
    below('warmup_steps', raw.warmup_steps);
    return { method: 'median', warmupSteps: raw.warmup_steps, every: raw.every };
  }
  below('min_steps', raw.min_steps);
  return { method: raw.method, minSteps: raw.min_steps, reduction: raw.reduction ?? DEFAULT_REDUCTION };
}

export interface LoadOptions {
  /** Refuse configs with more runs than this. */
  maxRuns?: number;
}

export const DEFAULT_MAX_RUNS = 10_000_000;

/** The most combinations of problem-axis values a plan may hold: each is a resolved
 * options object inside the plan, which every batch carries to its worker. */
export const MAX_PROBLEM_VARIANTS = 10_000;

export async function loadConfig(file: string, options: LoadOptions = {}): Promise<Plan> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (code ?? String(e));
    throw new ConfigError(file, '', `cannot read config: ${why}`);
  }
  return configPlan(parseJson(text, file), file, options);
}

/** Validates config text; `file` names it in messages. A problem module the config
 * names must be loaded already (`configPlan` and `loadConfig` load it). */
export function parseConfig(text: string, file: string, options: LoadOptions = {}): Plan {
  return checkConfig(parseJson(text, file), file, options);
}

/** Validates a config object (a config file's content); `file` names it in messages,
 * and a relative `problem.module` is relative to its folder. */
export function checkConfig(raw: unknown, file: string, options: LoadOptions = {}): Plan {
  checkDepth(raw, file);
  if (!validateSchema(raw)) throw schemaError(file, validateSchema.errors ?? [], raw);
  return toPlan(raw as RawConfig, file, options.maxRuns ?? DEFAULT_MAX_RUNS);
}

/** `checkConfig`, after importing the problem module the config names, if any (the
 * module's path is relative to `file`'s folder): what every reader of a config
 * object calls. */
export async function configPlan(raw: unknown, file: string, options: LoadOptions = {}): Promise<Plan> {
  const written = (raw as { problem?: { module?: unknown } } | null)?.problem?.module;
  if (typeof written === 'string' && written !== '') {
    try {
      await loadModule(modulePath(written, file));
    } catch (e) {
      throw moduleFailure(e, file, written);
    }
  }
  return checkConfig(raw, file, options);
}

/** A ModuleError as the config's error, naming the config and the module. */
function moduleFailure(e: unknown, file: string, written: string): unknown {
  return e instanceof ModuleError ? new ConfigError(file, `problem.module ${show(written)}:`, e.message) : e;
}

/** What a valid config does that is likely a mistake, one line each (the CLI prints
 * them on standard error before it starts): several seeds on a problem whose runs
 * ignore the seed. */
export function configWarnings(plan: Plan, file: string): string[] {
  const def = problemDef(plan.problem);
  const { options } = plan.problem;
  if (plan.seeds.length < 2 || !def.ignoresSeed?.(options, plan.seeds)) return [];
  const what = def.describe?.(options) ?? def.name;
  const n = plan.seeds.length;
  return [
    `${file}: seeds ${show(plan.seeds)}: ${what} starts every run from the same point and draws nothing from the seed, so each setting runs ${n} identical times`,
  ];
}

/** Deepest nesting of arrays and objects in a config: the deepest valid one nests 4
 * (optimizers[i].lr as a distribution); checking deeper text recursively could
 * exhaust the stack. */
const MAX_DEPTH = 32;

/** Refuses a value nested deeper than MAX_DEPTH, naming where (walked without recursion). */
function checkDepth(raw: unknown, file: string): void {
  const stack: [unknown, number, string][] = [[raw, 0, '']];
  while (stack.length > 0) {
    const [value, depth, at] = stack.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= MAX_DEPTH)
      throw new ConfigError(file, at, `nests arrays or objects more than ${MAX_DEPTH} deep; no config field does`);
    for (const [key, child] of Object.entries(value))
      stack.push([
        child,
        depth + 1,
        Array.isArray(value) ? `${at}[${key}]` : at ? `${at}.${showKey(key)}` : showKey(key),
      ]);
  }
}

/** A UTF-8 byte-order mark, which some editors put first; JSON.parse rejects it. */
const BOM = '\uFEFF';

function parseJson(text: string, file: string): unknown {
  if (text.startsWith(BOM)) text = text.slice(BOM.length);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const errors: ParseError[] = [];
    parseTolerant(text, errors, { disallowComments: true, allowTrailingComma: false });
    const first = errors[0];
    const at = first ? first.offset : text.length;
    const before = text.slice(0, at).split('\n');
    const where = `line ${before.length}, column ${before[before.length - 1].length + 1}`;
    const what = first
      ? printParseErrorCode(first.error)
          .replace(/([a-z])([A-Z])/g, '$1 $2')
          .toLowerCase()
      : 'empty file';
    throw new ConfigError(file, '', `is not valid JSON: ${what} at ${where}`);
  }
  checkDepth(value, file); // before walking the text: deep nesting would exhaust the stack
  checkDuplicateKeys(text, file);
  return value;
}

/** Refuses a key given twice in one object: JSON.parse keeps the last silently, which
 * is rarely what was meant. */
function checkDuplicateKeys(text: string, file: string): void {
  const open: Set<string>[] = [];
  let duplicate: { field: string; line: number } | undefined;
  visit(text, {
    onObjectBegin: () => void open.push(new Set()),
    onObjectEnd: () => void open.pop(),
    onObjectProperty(property, _offset, _length, startLine, _char, pathSupplier) {
      const keys = open[open.length - 1];
      if (duplicate || !keys) return;
      if (keys.has(property))
        duplicate = { field: fieldName(['', ...pathSupplier(), property].map(String).join('/')), line: startLine + 1 };
      keys.add(property);
    },
  });
  if (duplicate)
    throw new ConfigError(
      file,
      duplicate.field,
      `is given twice (again at line ${duplicate.line}); JSON would keep the last silently: give it once`,
    );
}

/** "/optimizers/1/lr/2" → "optimizers[1].lr[2]". */
function fieldName(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

function valueAt(root: unknown, pointer: string): unknown {
  let v: any = root;
  for (const p of pointer.split('/').slice(1)) v = v?.[p];
  return v;
}

const COMPARE: Record<string, string> = {
  minimum: '>=',
  exclusiveMinimum: '>',
  maximum: '<=',
  exclusiveMaximum: '<',
};

/**
 * Whether `e` comes from the branch of a problem option's schema that its value was
 * not meant for (`problemOptionSchema`: branch 0 one value, branch 1 a list of
 * values). A list is meant as an axis, unless the option's own value is a list and
 * this one holds something else than lists (then it is one value, maybe a wrong one).
 */
function unmeant(e: ErrorObject, raw: unknown): boolean {
  const branch = /\/then\/properties\/(\w+)\/anyOf\/([01])(\/|$)/.exec(e.schemaPath);
  if (!branch) return false;
  const problem = (raw as { problem: Record<string, unknown> }).problem;
  const schema = PROBLEMS[problem.name as string].optionsSchema[branch[1]];
  const value = problem[branch[1]];
  const axis = Array.isArray(value) && (!isListOption(schema) || (value.length > 0 && value.every(Array.isArray)));
  return branch[2] === (axis ? '0' : '1');
}

/** Picks the most telling of ajv's errors and phrases it as one line. */
function schemaError(file: string, errors: ErrorObject[], raw: unknown): ConfigError {
  const concrete = errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'if' && !unmeant(e, raw));
  const depth = (e: ErrorObject) => e.instancePath.split('/').length;
  const deepest = Math.max(...concrete.map(depth));
  // An object or a list never matches a bare enum: when the value is one, its own
  // branch's complaint (an unknown or missing key, an empty list) is the telling one.
  const isObject = (e: ErrorObject) => {
    const v = valueAt(raw, e.instancePath);
    return typeof v === 'object' && v !== null;
  };
  const candidates = concrete.filter(
    (e) =>
      depth(e) === deepest &&
      !(
        isObject(e) &&
        (e.keyword === 'enum' || e.keyword === 'const') &&
        concrete.some((o) => o !== e && depth(o) === deepest && o.keyword !== 'type')
      ),
  );
  const err = candidates.find((e) => e.keyword !== 'type') ?? candidates[0] ?? errors[0];
  const field = fieldName(err.instancePath);
  const value = valueAt(raw, err.instancePath);
  const inAnyOf = errors.some((e) => e.keyword === 'anyOf' && e.instancePath === err.instancePath);
  switch (err.keyword) {
    case 'additionalProperties': {
      const key = (err.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys((err.parentSchema as { properties?: object }).properties ?? {}).filter(
        (k) => k !== '$schema',
      );
      const hint = closest(key, allowed);
      const where = field ? `${field}.${showKey(key)}` : showKey(key);
      return new ConfigError(
        file,
        where,
        `is not a known key${hint ? ` (did you mean "${hint}"?)` : ''}; valid keys: ${allowed.join(', ')}`,
      );
    }
    case 'required': {
      const missing = (err.params as { missingProperty: string }).missingProperty;
      return new ConfigError(file, field ? `${field}.${missing}` : missing, 'is required');
    }
    case 'enum':
    case 'const': {
      const allowed = (err.keyword === 'enum' ? err.schema : [err.schema]) as string[];
      const hint = typeof value === 'string' ? closest(value, allowed) : undefined;
      return new ConfigError(
        file,
        field,
        `must be one of ${allowed.join(', ')}, got ${show(value)}${hint ? ` (did you mean "${hint}"?)` : ''}`,
      );
    }
    case 'minItems':
      return new ConfigError(
        file,
        field,
        err.schema === 1
          ? `must not be empty, got ${show(value)}`
          : `must have ${err.schema} items, got ${show(value)}`,
      );
    case 'maxItems':
      return new ConfigError(file, field, `must have at most ${err.schema} items, got ${show(value)}`);
    case 'minimum':
    case 'exclusiveMinimum':
    case 'maximum':
    case 'exclusiveMaximum':
      return new ConfigError(file, field, `must be ${COMPARE[err.keyword]} ${err.schema}, got ${show(value)}`);
    case 'pattern':
      return new ConfigError(file, field, `must use only letters, digits, '.', '_' and '-', got ${show(value)}`);
    case 'minLength':
      return new ConfigError(file, field, `must not be empty, got ${show(value)}`);
    case 'type':
      if (inAnyOf) return new ConfigError(file, field, `must be ${describeAnyOf(field, raw)}, got ${show(value)}`);
      return new ConfigError(file, field, `must be ${article(String(err.schema))}, got ${show(value)}`);
    default:
      return new ConfigError(file, field, `${err.message ?? 'is invalid'}, got ${show(value)}`);
  }
}

function article(type: string): string {
  return type === 'integer' || type === 'array' || type === 'object' ? `an ${type}` : `a ${type}`;
}

/** What a problem option's own schema admits, in words. */
function describeOption(schema: Record<string, unknown>): string {
  if (schema.type === 'boolean') return 'true or false';
  if (schema.type === 'number' || schema.type === 'integer' || schema.type === 'array')
    return article(String(schema.type));
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.join(', ')}`;
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as Record<string, unknown>[]).map(describeOption).join(' or ');
  return 'a valid value';
}

function describeAnyOf(field: string, raw: unknown): string {
  if (field === 'seeds') return 'an integer >= 0 or a non-empty list of them';
  if (/^optimizers\[\d+\]$/.test(field)) return 'an optimizer name or an object {"name": ..., <axis>: ...}';
  const option = /^problem\.(\w+)$/.exec(field);
  const problemName = (raw as { problem?: { name?: unknown } }).problem?.name;
  if (option && typeof problemName === 'string' && Object.hasOwn(PROBLEMS, problemName)) {
    const schema = PROBLEMS[problemName].optionsSchema[option[1]] as Record<string, unknown> | undefined;
    if (schema) return `${describeOption(schema)}, or a non-empty list of such values (an axis)`;
  }
  return 'a number, a non-empty list of numbers, or a distribution {"distribution", "min", "max"}';
}

function toAxis(name: AxisName, value: AxisValue, field: string, file: string, label: string): Axis {
  if (typeof value === 'number') return { name, kind: 'grid', values: [value] };
  if (Array.isArray(value)) {
    const seen = new Set<number>();
    value.forEach((v, i) => {
      if (seen.has(v))
        throw new ConfigError(file, `${field}[${i}]`, `repeats the value ${v}; each run would be run twice`);
      seen.add(v);
    });
    return { name, kind: 'grid', values: value };
  }
  if (!(value.min < value.max))
    throw new ConfigError(file, `${field}.max`, `must be greater than min (${value.min}), got ${value.max}`);
  if (value.distribution === 'log-uniform' && !(value.min > 0))
    throw new ConfigError(file, `${field}.min`, `must be > 0 for a log-uniform distribution, got ${value.min}`);
  return { name, kind: 'random', distribution: value.distribution, min: value.min, max: value.max, label };
}

/** The problem options given as lists of values, in the problem's option order (for
 * an option whose value is itself a list, a list of lists), checked for repeats. */
function problemAxes(raw: RawConfig, file: string): ProblemAxis[] {
  // A module's options are its own, lists included: passed as given, never swept.
  if (raw.problem.module !== undefined) return [];
  const schemas = PROBLEMS[raw.problem.name!].optionsSchema;
  const axes: ProblemAxis[] = [];
  for (const [name, schema] of Object.entries(schemas)) {
    const value = raw.problem[name];
    if (!Array.isArray(value)) continue;
    // The schema admits a list option's value or a list of such values, never a mix.
    if (isListOption(schema) && !(value.length > 0 && value.every((v) => Array.isArray(v)))) continue;
    const seen = new Map<string, number>();
    value.forEach((v, i) => {
      const key = JSON.stringify(v);
      if (seen.has(key))
        throw new ConfigError(
          file,
          `problem.${name}[${i}]`,
          `repeats the value ${show(v)} (also problem.${name}[${seen.get(key)}]); each run would be run twice`,
        );
      seen.set(key, i);
    });
    axes.push({ name, values: value });
  }
  return axes;
}

/**
 * The problem's resolved options, one per combination of the axes' values. A rule
 * that one value breaks is reported at that value (`problem.hidden[1][0]`); one that
 * a combination breaks, with the combination.
 */
function resolveProblem(raw: RawConfig, file: string, axes: readonly ProblemAxis[], maxRuns: number): PlanProblem {
  const { name: builtIn, ...given } = raw.problem;
  const written = raw.problem.module;
  if (written !== undefined && builtIn !== undefined)
    throw new ConfigError(
      file,
      'problem',
      `gives both name (${show(builtIn)}) and module (${show(written)}); give name for a built-in problem, module for your own`,
    );
  const name = written === undefined ? builtIn! : MODULE;
  const def = problemDef({ name });
  if (written !== undefined) given.module = modulePath(written, file);
  const count = axes.reduce((n, a) => n * a.values.length, 1);
  if (count > Math.min(MAX_PROBLEM_VARIANTS, maxRuns))
    throw new ConfigError(
      file,
      'problem',
      `combines its lists into ${count} variants of the problem, more than the limit of ${Math.min(MAX_PROBLEM_VARIANTS, maxRuns)}: sweep fewer values at once`,
    );
  const variants: object[] = [];
  for (let v = 0; v < count; v++) {
    const values = variantValues(axes, v);
    const options: Record<string, unknown> = { ...given };
    axes.forEach((a, k) => (options[a.name] = values[k]));
    try {
      variants.push(def.resolve(options));
    } catch (e) {
      if (written !== undefined) throw moduleFailure(e, file, written);
      if (!(e instanceof OptionError)) throw e;
      const [, option, rest] = /^problem\.(\w+)(.*)$/.exec(e.field) ?? [];
      const k = axes.findIndex((a) => a.name === option);
      if (k >= 0) {
        const field = `problem.${option}[${axes[k].values.indexOf(values[k])}]${rest}`;
        throw new ConfigError(file, field, `must ${e.rule}, got ${show(e.value)}`);
      }
      const where = axes.length ? ` (with ${axes.map((a, j) => `${a.name} = ${show(values[j])}`).join(', ')})` : '';
      throw new ConfigError(file, e.field, `must ${e.rule}, got ${show(e.value)}${where}`);
    }
  }
  for (const options of variants) {
    const bytes = runBytes({ name, options });
    if (bytes > MAX_ARENA_BYTES)
      throw new ConfigError(
        file,
        'problem',
        `needs ${(bytes / 2 ** 30).toFixed(1)} GiB of memory per run, more than the ${(MAX_ARENA_BYTES / 2 ** 30).toFixed(1)} GiB a run's memory can hold, got ${show(raw.problem)}`,
      );
  }
  // Every variant must give the same columns: the CSV has one header.
  const columnsOf = (options: object) =>
    JSON.stringify([def.metrics(options), def.rank?.(options), def.trajectory?.(options)]);
  const first = columnsOf(variants[0]);
  const odd = variants.findIndex((options) => columnsOf(options) !== first);
  if (odd >= 0) {
    const [a, b] = [variantValues(axes, 0), variantValues(axes, odd)];
    const k = axes.findIndex((_, j) => a[j] !== b[j]);
    throw new ConfigError(
      file,
      `problem.${axes[k].name}`,
      `cannot be swept here: its values give the runs different result or curve columns (${show(a[k])} against ${show(b[k])}); run them as separate configs, got ${show(axes[k].values)}`,
    );
  }
  if (axes.length === 0) return { name, options: variants[0] };
  return { name, options: variants[0], axes, variants };
}

function toPlan(raw: RawConfig, file: string, maxRuns: number): Plan {
  const problem = resolveProblem(raw, file, problemAxes(raw, file), maxRuns);
  const variants = problem.variants?.length ?? 1;

  const seeds = raw.seeds === undefined ? [0] : typeof raw.seeds === 'number' ? [raw.seeds] : raw.seeds;
  seeds.forEach((s, i) => {
    if (seeds.indexOf(s) !== i) throw new ConfigError(file, `seeds[${i}]`, `repeats the seed ${s}`);
  });
  const def = problemDef(problem);
  for (const options of problem.variants ?? [problem.options]) {
    try {
      def.check?.(options, seeds);
    } catch (e) {
      const written = raw.problem.module;
      throw written === undefined ? e : moduleFailure(e, file, written);
    }
  }

  const entries = raw.optimizers.map((o) => (typeof o === 'string' ? { name: o } : o));
  const used = new Set<AxisName>([WEIGHT_DECAY as AxisName]);
  entries.forEach((entry, i) => {
    const firstIndex = entries.findIndex((e) => e.name === entry.name);
    if (firstIndex !== i)
      throw new ConfigError(
        file,
        `optimizers[${i}]`,
        `repeats "${entry.name}" (also optimizers[${firstIndex}]); give one entry lists of values instead`,
      );
    const opt = OPTIMIZERS[entry.name];
    for (const h of opt.hyper) used.add(h);
    for (const key of Object.keys(entry)) {
      if (key !== 'name' && !(opt.hyper as readonly string[]).includes(key) && key !== WEIGHT_DECAY)
        throw new ConfigError(
          file,
          `optimizers[${i}].${key}`,
          `does not apply: ${entry.name} takes ${[...opt.hyper, WEIGHT_DECAY].join(', ')}, got ${show((entry as Record<string, unknown>)[key])}`,
        );
    }
  });
  for (const axis of AXIS_NAMES) {
    if (raw[axis] !== undefined && !used.has(axis as AxisName)) {
      const takers = Object.values(OPTIMIZERS)
        .filter((o) => (o.hyper as readonly string[]).includes(axis))
        .map((o) => o.name);
      throw new ConfigError(
        file,
        axis,
        `applies to no optimizer in this sweep (only ${takers.join(', ')} use it), got ${show(raw[axis])}`,
      );
    }
  }

  let random = false;
  let total = 0;
  const trials = raw.trials ?? 1;
  const optimizers: PlanOptimizer[] = entries.map((entry, i) => {
    const opt = OPTIMIZERS[entry.name];
    const axes: Axis[] = [];
    for (const axis of AXIS_NAMES as AxisName[]) {
      if (axis !== WEIGHT_DECAY && !(opt.hyper as readonly string[]).includes(axis)) continue;
      const own = (entry as Partial<Record<AxisName, AxisValue>>)[axis];
      const value = own ?? (raw[axis] as AxisValue | undefined);
      if (value === undefined) continue;
      const field = own !== undefined ? `optimizers[${i}].${axis}` : axis;
      const a = toAxis(axis, value, field, file, own !== undefined ? `trial:${entry.name}` : 'trial');
      if (a.kind === 'random') random = true;
      axes.push(a);
    }
    const sampled = axes.some((a) => a.kind === 'random');
    const count = gridSize(axes) * variants * (sampled ? trials : 1) * seeds.length;
    const first = total;
    total += count;
    return { name: entry.name, axes, sampled, trials: sampled ? trials : 1, count, first };
  });

  if (random && raw.trials === undefined) {
    const sampled = optimizers.flatMap((o) => o.axes).find((a) => a.kind === 'random')!;
    throw new ConfigError(
      file,
      'trials',
      `is required when an axis is a distribution (random search): ${sampled.name} is one`,
    );
  }
  if (!random && raw.trials !== undefined)
    throw new ConfigError(file, 'trials', `needs an axis that is a distribution, got ${raw.trials} with none`);
  if (!random && raw.search_seed !== undefined)
    throw new ConfigError(
      file,
      'search_seed',
      `needs an axis that is a distribution, got ${raw.search_seed} with none`,
    );
  if (total > maxRuns)
    throw new ConfigError(
      file,
      '',
      `expands to ${total} runs, more than the limit of ${maxRuns}; pass --max-runs ${total} to run it`,
    );

  const columns = (AXIS_NAMES as AxisName[]).filter((axis) =>
    axis === WEIGHT_DECAY
      ? optimizers.some((o) => o.axes.some((a) => a.name === WEIGHT_DECAY))
      : optimizers.some((o) => (OPTIMIZERS[o.name].hyper as readonly string[]).includes(axis)),
  );

  return {
    name: raw.name,
    problem,
    steps: raw.steps,
    seeds,
    trials,
    searchSeed: raw.search_seed ?? 0,
    divergenceFactor: raw.divergence_factor ?? DEFAULT_DIVERGENCE_FACTOR,
    random,
    optimizers,
    columns,
    total,
    ...(raw.early_stopping && { earlyStopping: toEarlyStopping(raw.early_stopping, raw.steps, file) }),
  };
}

/**
 * The plan as a config: the config object that `parseConfig` turns back into this
 * very plan (defaults made explicit, each optimizer's grid axes in its own entry,
 * distributions shared by every optimizer at the top level). The manifest records
 * it, so that a CSV can be read, and its sweep resumed, without the config file.
 */
export function planConfig(plan: Plan): Record<string, unknown> {
  const value = (a: Axis): AxisValue =>
    a.kind === 'grid' ? [...a.values] : { distribution: a.distribution, min: a.min, max: a.max };
  const shared: Record<string, AxisValue> = {};
  const optimizers = plan.optimizers.map((o) => {
    const entry: Record<string, unknown> = { name: o.name };
    for (const a of o.axes) {
      if (a.kind === 'random' && a.label === 'trial') shared[a.name] = value(a);
      else entry[a.name] = value(a);
    }
    return entry;
  });
  return {
    name: plan.name,
    // Problem axes as lists of their values, as the config gave them.
    problem: {
      ...(problemDef(plan.problem).config?.(plan.problem.options) ?? {
        name: plan.problem.name,
        ...plan.problem.options,
      }),
      ...Object.fromEntries((plan.problem.axes ?? []).map((a) => [a.name, [...a.values]])),
    },
    optimizers,
    ...shared,
    steps: plan.steps,
    seeds: [...plan.seeds],
    divergence_factor: plan.divergenceFactor,
    ...(plan.random && { trials: plan.trials, search_seed: plan.searchSeed }),
    ...(plan.earlyStopping && { early_stopping: earlyStoppingConfig(plan.earlyStopping) }),
  };
}

function earlyStoppingConfig(e: EarlyStopping): RawEarlyStopping {
  return e.method === 'median'
    ? { method: e.method, warmup_steps: e.warmupSteps, every: e.every }
    : { method: e.method, min_steps: e.minSteps, reduction: e.reduction };
}
