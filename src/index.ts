/**
 * sweep as a library:
 *
 *     import { sweep, readSweep, validateConfig } from 'sweep';
 *
 *     const run = sweep('configs/grid.json', { workers: 2, out: 'grid.csv' });
 *     for await (const record of run) if (record.status === 'ok') console.log(record.run_id, record.final_loss);
 *     console.log((await run.summary).optimizers);
 *
 * A record is the CSV's row as an object (`recordRow`): `record.run_id`,
 * `record.optimizer`, the axes, `record.final_loss`, `record.status`, the problem's
 * columns; numbers as numbers, blanks as undefined. The CLI and this module drive a
 * sweep the same way (session.ts); what is the CLI's own (signals, the progress
 * line, the printed summary) is a consumer or an option here.
 */
import { availableParallelism } from 'node:os';
import { configPlan, configWarnings, loadConfig, DEFAULT_MAX_RUNS } from './config/load.js';
import { columnsOf, recordRow, type SweepRecord } from './csv.js';
import { UsageError } from './errors.js';
import { createExecutor, EXECUTOR_NAMES, DEFAULT_WORKER_MEMORY_MB, type ExecutorName } from './executors/index.js';
import type { AxisName, Plan } from './grid.js';
import type { Manifest } from './manifest.js';
import type { LiveRun } from './protocol.js';
import { readSweep as readWritten } from './read.js';
import { Tally } from './report.js';
import { records, type ResultBatch } from './results.js';
import { closeOutputs, defaultCurveEvery, openOutputs, runPlan, type Outputs } from './session.js';
import type { Executor } from './executor.js';
import type { Consumer } from './sweep.js';

export type { SweepRecord } from './csv.js';
export type { Plan } from './grid.js';
export type { Manifest } from './manifest.js';
export type { ExecutorName } from './executors/index.js';
export type { LiveRun } from './protocol.js';
export type { RunStatus } from './results.js';
export { ConfigError, UsageError } from './errors.js';
export { ExecutorError } from './executor.js';

/** A config, as its JSON file holds it (configs/sweep.schema.json says every field). */
export interface SweepConfig {
  name: string;
  /** A built-in problem by name, or a module of your own (relative to the working
   * folder for a config given as an object; to the file for a config file). */
  problem: ({ name: string } | { module: string }) & Record<string, unknown>;
  optimizers: (string | ({ name: string } & Record<string, unknown>))[];
  steps: number;
  seeds?: number | number[];
  [field: string]: unknown;
}

export interface SweepOptions {
  /** Worker threads (or processes); default: the available cores. */
  workers?: number;
  /** Where runs run: "piscina" (worker threads, the default), "child" (processes), or
   * "redis" (worker processes on any machine, through `redis`). */
  executor?: ExecutorName;
  /** Run the batches on worker processes through this Redis,
   * `redis://[:password@]host:port` or `rediss://…` (start them with
   * `npx sweep-worker --redis URL`); implies the "redis" executor. */
  redis?: string;
  /** The results CSV to write (and its manifest beside it); default: none. */
  out?: string;
  /** Overwrite `out` (and `curves`) if they exist. */
  force?: boolean;
  /** Continue the sweep `out` holds: only the runs not in it are run and given. */
  resume?: boolean;
  /** Also write each run's loss curve to this CSV. */
  curves?: string;
  /** Steps between curve points; default steps/100, at least 1. */
  curveEvery?: number;
  /** Extra attempts for a run that ends in error (default 0). */
  retries?: number;
  /** Heap limit of each worker, MiB (default 2048). */
  workerMemoryMb?: number;
  /** Refuse a config with more runs than this (default 10,000,000). */
  maxRuns?: number;
  /** Aborting it stops the sweep as Ctrl-C stops the CLI: no new runs start, the
   * runs in progress finish and are given, `summary.interrupted` says so. */
  signal?: AbortSignal;
  /** Called every `progressMs` while the sweep runs, and once at its end. */
  onProgress?: (progress: SweepProgress) => void;
  /** Default 250. */
  progressMs?: number;
  /** What is legal but likely a mistake (seeds that change nothing); default:
   * `process.emitWarning`. */
  onWarning?: (message: string) => void;
}

export interface SweepProgress {
  /** Runs done, resumed ones included. */
  readonly done: number;
  readonly total: number;
  readonly seconds: number;
  /** The runs in progress, with their step and loss, as lately known. */
  readonly running: readonly LiveRun[];
}

export interface OptimizerResult {
  readonly optimizer: string;
  readonly runs: number;
  readonly ok: number;
  readonly diverged: number;
  readonly error: number;
  readonly pruned: number;
  /** Its best ok run by the problem's ranking column (`column`, lowest final_loss
   * unless the problem ranks by a held-out accuracy), with its settings. */
  readonly best?: {
    readonly run_id: number;
    readonly column: string;
    readonly value: number;
    readonly settings: Partial<Record<AxisName, number>>;
    readonly seed: number;
  };
}

export interface SweepSummary {
  /** Runs given by this sweep (not those already in a resumed file). */
  readonly runs: number;
  /** Runs of the plan in all. */
  readonly total: number;
  /** Whether it stopped (signal, or a loop left early) with runs not done. */
  readonly interrupted: boolean;
  readonly seconds: number;
  /** Every optimizer, in config order, resumed runs included. */
  readonly optimizers: readonly OptimizerResult[];
  readonly plan: Plan;
}

/** A running sweep: its records, in the CSV's order (run order, unless early
 * stopping), as an async iterable; the summary when it ends. It starts when first
 * iterated (or at `done()`); leaving the loop early (`break`, a throw) stops it and
 * closes the workers. Batches are handed over a couple at a time: while the loop
 * body runs, the sweep submits nothing new. */
export interface Sweep extends AsyncIterable<SweepRecord> {
  /** Settles when the sweep has ended: its summary, or what stopped it (a bad
   * config, workers that cannot start, an output that cannot be written). */
  readonly summary: Promise<SweepSummary>;
  /** Runs the sweep to its end without looping over its records (with `out`, the
   * CSV has them): its summary. */
  done(): Promise<SweepSummary>;
}

/** Batches waiting for the loop, at most. */
const HANDED_OVER = 2;
const PROGRESS_MS = 250;

/** The plan a config (an object, or the path of a config file) makes: what
 * `sweep` would run. A bad config rejects with a `ConfigError` whose message is the
 * line the CLI prints (after "sweep: "). */
export function validateConfig(config: SweepConfig | string, options: { maxRuns?: number } = {}): Promise<Plan> {
  const maxRuns = options.maxRuns ?? DEFAULT_MAX_RUNS;
  return typeof config === 'string' ? loadConfig(config, { maxRuns }) : configPlan(config, CONFIG_LABEL, { maxRuns });
}

/** How messages name a config given as an object; a relative `problem.module`
 * in it is relative to the working folder. */
const CONFIG_LABEL = 'config';

export interface WrittenSweep {
  readonly manifest: Manifest;
  readonly plan: Plan;
  /** Every run written, in the CSV's order: the records `sweep` gave. */
  readonly records: SweepRecord[];
  /** Whether every run of the plan is there. */
  readonly complete: boolean;
}

/** A written sweep, finished or not, from its CSV and the manifest beside it. */
export async function readSweep(csvPath: string): Promise<WrittenSweep> {
  const written = await readWritten(csvPath);
  const columns = columnsOf(written.plan);
  return { ...written, records: written.records.map((r) => recordRow(written.plan, r, columns)) };
}

/** Runs a sweep: see `Sweep`. */
export function sweep(config: SweepConfig | string, options: SweepOptions = {}): Sweep {
  return new Running(config, options);
}

/** Hands batches from the sweep to the loop, a few at a time: `accept` waits for
 * room, and while it waits the coordinator submits no new batch. */
class Handover implements Consumer {
  private readonly waiting: ResultBatch[] = [];
  private room?: () => void;
  private wake?: () => void;
  private ended?: { error?: unknown };
  /** The loop is gone: take everything, keep nothing. */
  private dropping = false;

  accept(batch: ResultBatch): void | Promise<void> {
    if (this.dropping) return;
    this.waiting.push(batch);
    this.wakeUp();
    if (this.waiting.length >= HANDED_OVER) return new Promise<void>((r) => (this.room = r));
  }

  /** The next batch; undefined once the sweep has ended; throws what ended it. */
  async take(): Promise<ResultBatch | undefined> {
    for (;;) {
      const batch = this.waiting.shift();
      if (batch) {
        this.room?.();
        this.room = undefined;
        return batch;
      }
      if (this.ended) {
        if ('error' in this.ended) throw this.ended.error;
        return undefined;
      }
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  end(ended: { error?: unknown }): void {
    this.ended = ended;
    this.wakeUp();
  }

  drop(): void {
    this.dropping = true;
    this.waiting.length = 0;
    this.room?.();
  }

  private wakeUp(): void {
    this.wake?.();
    this.wake = undefined;
  }
}

function checkOptions(o: SweepOptions): void {
  const integer = (name: keyof SweepOptions, min: number): void => {
    const v = o[name];
    if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v >= min))
      throw new UsageError(`options.${name} must be an integer >= ${min}, got ${String(v)}`);
  };
  integer('workers', 1);
  integer('retries', 0);
  integer('curveEvery', 1);
  integer('maxRuns', 1);
  integer('workerMemoryMb', 16);
  integer('progressMs', 1);
  if (o.executor !== undefined && !EXECUTOR_NAMES.includes(o.executor))
    throw new UsageError(`options.executor must be one of ${EXECUTOR_NAMES.join(', ')}, got ${String(o.executor)}`);
  if (o.executor === 'redis' && o.redis === undefined)
    throw new UsageError('options.executor redis needs options.redis');
  if (o.curveEvery !== undefined && o.curves === undefined)
    throw new UsageError('options.curveEvery needs options.curves (a file)');
  if (o.resume && o.out === undefined) throw new UsageError('options.resume needs options.out: the CSV to continue');
  if (o.resume && o.force) throw new UsageError('options.resume and options.force contradict each other');
  if (o.curves !== undefined && o.curves === o.out)
    throw new UsageError(`options.curves ${o.curves}: the same file as options.out`);
}

class Running implements Sweep {
  readonly summary: Promise<SweepSummary>;
  private settle!: { resolve: (s: SweepSummary) => void; reject: (e: unknown) => void };
  private started = false;
  /** done(): the loop wants no records. */
  private quiet = false;

  constructor(
    private readonly config: SweepConfig | string,
    private readonly options: SweepOptions,
  ) {
    this.summary = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // Whoever iterates sees the failure thrown; the summary need not be awaited too.
    this.summary.catch(() => undefined);
  }

  [Symbol.asyncIterator](): AsyncIterator<SweepRecord> {
    if (this.started) throw new Error('a sweep runs once: iterate it once, or call done() once');
    this.started = true;
    return this.run();
  }

  async done(): Promise<SweepSummary> {
    this.quiet = true;
    for await (const _ of this);
    return this.summary;
  }

  private async *run(): AsyncGenerator<SweepRecord, void, undefined> {
    const o = this.options;
    const started = performance.now();
    let plan: Plan | undefined;
    let outputs: Outputs | undefined;
    let outcome: { runs: number; interrupted: boolean } | undefined;
    let failure: { error: unknown } | undefined;
    let ticker: NodeJS.Timeout | undefined;
    let sweeping: Promise<unknown> | undefined;
    let tally: Tally | undefined;
    let written = 0;
    const left = new AbortController();
    const handover = new Handover();
    let executor: Executor | undefined;
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => (closing ??= executor?.close() ?? Promise.resolve());
    const seconds = (): number => (performance.now() - started) / 1000;
    const report = (running: readonly LiveRun[]): void =>
      o.onProgress?.({ done: written, total: plan!.total, seconds: seconds(), running });
    try {
      checkOptions(o);
      plan = await validateConfig(this.config, { maxRuns: o.maxRuns });
      const label = typeof this.config === 'string' ? this.config : CONFIG_LABEL;
      for (const w of configWarnings(plan, label))
        (o.onWarning ?? ((m: string) => process.emitWarning(m, 'SweepWarning')))(w);
      // The workers only once the config is known good: nothing starts for a bad one.
      executor = createExecutor(o.redis ? 'redis' : (o.executor ?? 'piscina'), {
        workers: o.workers ?? availableParallelism(),
        workerMemoryMb: o.workerMemoryMb ?? DEFAULT_WORKER_MEMORY_MB,
        url: o.redis,
      });
      const pool = executor;
      await pool.ready();
      outputs = await openOutputs(plan, {
        out: o.out,
        curves: o.curves,
        curveEvery: o.curveEvery ?? defaultCurveEvery(plan),
        curveEveryGiven: o.curveEvery !== undefined,
        resume: o.resume ?? false,
        force: o.force ?? false,
      });
      tally = new Tally(plan);
      for (const b of outputs.file?.prior ?? []) tally.accept(b);
      written = outputs.from;
      const counter: Consumer = { accept: (b) => void (written += b.count) };
      if (o.onProgress)
        ticker = setInterval(
          () => void pool.progress().then((p) => report(p.runs)),
          o.progressMs ?? PROGRESS_MS,
        ).unref();
      const signal = o.signal ? AbortSignal.any([o.signal, left.signal]) : left.signal;
      sweeping = runPlan(plan, outputs, {
        executor: pool,
        retries: o.retries,
        signal,
        curveEvery: outputs.curveEvery,
        consumers: [tally, counter, handover],
      }).then(
        (r) => {
          outcome = r;
          handover.end({});
        },
        (error: unknown) => handover.end({ error }),
      );
      const columns = columnsOf(plan);
      for (let batch = await handover.take(); batch; batch = await handover.take())
        if (!this.quiet) for (const r of records(batch)) yield recordRow(plan, r, columns);
    } catch (error) {
      failure = { error };
      throw error;
    } finally {
      if (ticker) clearInterval(ticker);
      if (!outcome && !failure) {
        // The loop was left early: stop submitting, let go of the workers (the runs in
        // progress with them), and take what still arrives without keeping it.
        left.abort();
        handover.drop();
        await close();
      }
      await sweeping;
      if (outputs) await closeOutputs(outputs, outcome?.interrupted === false);
      await close();
      if (failure) this.settle.reject(failure.error);
      else {
        report([]);
        const runs = outcome?.runs ?? written - (outputs?.from ?? 0);
        this.settle.resolve(summaryOf(plan!, tally!, runs, outcome?.interrupted ?? true, seconds()));
      }
    }
  }
}

function summaryOf(plan: Plan, tally: Tally, runs: number, interrupted: boolean, seconds: number): SweepSummary {
  const column = columnsOf(plan).rank.column;
  return {
    runs,
    total: plan.total,
    interrupted,
    seconds,
    plan,
    optimizers: tally.optimizers.map(({ best, ...counts }) => ({
      ...counts,
      ...(best && {
        best: { run_id: best.spec.id, column, value: best.value, settings: best.spec.axes, seed: best.spec.seed },
      }),
    })),
  };
}
