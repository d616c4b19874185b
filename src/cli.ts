#!/usr/bin/env node
/**
 * The command line: parses options (yargs), checks every input before anything
 * runs, and maps failures to exit codes: 2 for bad input, 1 for worker threads that
 * cannot start or an output that cannot be written (one line each), 1 with a stack
 * trace for a bug.
 */
import './heap.js';
import { existsSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DEFAULT_MAX_RUNS, configWarnings, loadConfig } from './config/load.js';
import { EXIT, UsageError, exitCode, oneLine, usageFailure } from './errors.js';
import type { Executor } from './executor.js';
import {
  DEFAULT_WORKER_MEMORY_MB,
  EXECUTOR_NAMES,
  WORKER_FILE,
  createExecutor,
  type ExecutorName,
} from './executors/index.js';
import { redact } from './executors/redis-connection.js';
import type { Plan } from './grid.js';
import { eatenByNpm } from './npm-args.js';
import { Tally, bestConfigurations, bestRuns, dryRun, progressLine } from './report.js';
import { RowWriter, columnsOf, curveColumns, headerLine } from './csv.js';
import { recordAt, sliceBatch, type Curve, type ResultBatch } from './results.js';
import type { LiveRun } from './protocol.js';
import { closeOutputs, defaultCurveEvery, openOutputs, runPlan } from './session.js';
import { runBytes } from './batch.js';
import { addressSpaceLimit, relaunchIfLimited } from './relaunch.js';
import { TakenError, lockPath } from './lock.js';
import { manifestPath } from './manifest.js';
import { shellCommand } from './shell.js';
import type { Consumer } from './sweep.js';
import { Aggregator } from './aggregate.js';

/** How often the live progress line is redrawn on a terminal. */
const PROGRESS_MS = 250;
/** Seconds between plain progress lines when standard error is not a terminal (a
 * log, CI): the default of --progress-every. */
const PLAIN_PROGRESS_SECONDS = 30;

interface Args {
  config: string;
  workers: number;
  out?: string;
  dryRun: boolean;
  maxRuns: number;
  progress: boolean;
  progressEvery: number;
  resume: boolean;
  retryErrors: boolean;
  force: boolean;
  retries: number;
  workerMemory: number;
  curves?: string;
  curveEvery?: number;
  executor: ExecutorName;
  redis?: string;
  report: boolean;
}

/** A sweep that writes no curves file keeps its curves in memory for the report
 * when they are at most this many values (32 MB); larger sweeps' reports run again
 * the few runs they draw. */
const KEPT_CURVE_VALUES = 4_000_000;

/** Keeps every run's curve, for the report at the end. */
class CurveKeeper implements Consumer {
  readonly curves = new Map<number, Curve>();

  accept(batch: ResultBatch): void {
    if (!batch.curves) return;
    for (let k = 0; k < batch.count; k++) {
      const c = recordAt(batch, k).curve;
      if (c && c.step.length > 0) this.curves.set(batch.first + k, c);
    }
  }
}

/** Sweeps up to this many runs get their report at the end; a larger one is told
 * the command (every record is read back into memory to draw it). */
const REPORT_MAX_RUNS = 2_000_000;

function parseArgs(argv: string[]): Args {
  return yargs(argv)
    .scriptName('npm run sweep --')
    .usage(
      '$0 <config> [options]\n\nRun a hyperparameter sweep of gradient-descent optimizers and write one CSV row per run.',
    )
    .command('$0 <config>', false)
    .positional('config', { type: 'string', describe: 'the sweep config (JSON; see configs/sweep.schema.json)' })
    .option('workers', {
      alias: 'w',
      type: 'number',
      default: availableParallelism(),
      describe: 'worker threads (default: the available cores)',
    })
    .option('out', {
      alias: 'o',
      type: 'string',
      requiresArg: true,
      describe: 'CSV to write; "-" for standard output (default: results/<name>-<time>.csv)',
    })
    .option('dry-run', {
      type: 'boolean',
      default: false,
      describe: 'print the number of runs per optimizer, run nothing',
    })
    .option('max-runs', {
      type: 'number',
      default: DEFAULT_MAX_RUNS,
      describe: 'refuse a sweep with more runs than this',
    })
    .option('curves', {
      type: 'string',
      requiresArg: true,
      describe: "also write each run's loss curve (and, for small problems, its trajectory) to this CSV",
    })
    .option('curve-every', {
      type: 'number',
      describe: 'record the curve every K steps (default: steps/100, at least 1)',
    })
    .option('resume', {
      type: 'boolean',
      default: false,
      describe: 'continue the sweep that --out FILE holds (same config), skipping the runs it has',
    })
    .option('retry-errors', {
      type: 'boolean',
      default: false,
      describe: 'with --resume: run the runs whose status is error again, each row replaced in place',
    })
    .option('force', { type: 'boolean', default: false, describe: 'overwrite --out FILE if it exists' })
    .option('retries', {
      type: 'number',
      default: 0,
      describe: 'extra attempts for a run that ends in error (a throw, or its worker dying)',
    })
    .option('worker-memory', {
      type: 'number',
      default: DEFAULT_WORKER_MEMORY_MB,
      describe: 'heap limit of each worker thread, MiB; a run that exceeds it is recorded as error',
    })
    .option('executor', {
      choices: EXECUTOR_NAMES,
      default: 'piscina' as ExecutorName,
      describe:
        'where runs run: piscina (worker threads, shared memory), child (processes speaking JSON) or redis (worker processes through --redis)',
    })
    .option('redis', {
      type: 'string',
      requiresArg: true,
      describe:
        'run the batches on worker processes through this Redis, redis://[:password@]HOST:PORT or rediss:// (start them with npm run worker -- --redis URL)',
    })
    .option('report', {
      type: 'boolean',
      default: true,
      describe: 'write <name>.summary.csv and the HTML report <name>.html beside the CSV at the end (--no-report: not)',
    })
    .option('progress', {
      type: 'boolean',
      default: true,
      describe:
        'show progress on standard error: a live line on a terminal, else a plain line every --progress-every seconds (--no-progress to hide)',
    })
    .option('progress-every', {
      type: 'number',
      default: PLAIN_PROGRESS_SECONDS,
      requiresArg: true,
      describe: 'seconds between progress lines when standard error is not a terminal (a log, CI)',
    })
    .example('$0 configs/grid.json', 'all six optimizers on the anisotropic bowl')
    .example('$0 configs/book-bowl.json --out - | head', 'the book figure, CSV to standard output')
    .example('$0 configs/mnist.json --dry-run', 'count the runs first')
    .strict()
    .help()
    .alias('help', 'h')
    .version(false)
    .wrap(Math.min(100, process.stderr.columns ?? 100))
    .fail(usageFailure('no config given: npm run sweep <config.json> (see --help)'))
    .parseSync() as unknown as Args;
}

/** Options that take one value: given twice, yargs makes a list of them. */
const SINGLE = [
  'workers',
  'out',
  'maxRuns',
  'curves',
  'curveEvery',
  'retries',
  'workerMemory',
  'executor',
  'progressEvery',
] as const;
const flagOf = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

function checkArgs(a: Args): void {
  for (const key of SINGLE) {
    const value = (a as unknown as Record<string, unknown>)[key];
    if (Array.isArray(value))
      throw new UsageError(`${flagOf(key)} is given ${value.length} times (${value.join(', ')}); give it once`);
  }
  if (a.out === '') throw new UsageError("--out needs a file name (or - for standard output), got ''");
  if (a.curves === '') throw new UsageError("--curves needs a file name, got ''");
  if (!Number.isInteger(a.workers) || a.workers < 1)
    throw new UsageError(`--workers must be an integer >= 1, got ${a.workers}`);
  if (!Number.isInteger(a.maxRuns) || a.maxRuns < 1)
    throw new UsageError(`--max-runs must be an integer >= 1, got ${a.maxRuns}`);
  if (!Number.isInteger(a.retries) || a.retries < 0)
    throw new UsageError(`--retries must be an integer >= 0, got ${a.retries}`);
  if (a.curveEvery !== undefined && (!Number.isInteger(a.curveEvery) || a.curveEvery < 1))
    throw new UsageError(`--curve-every must be an integer >= 1, got ${a.curveEvery}`);
  if (a.curveEvery !== undefined && a.curves === undefined) throw new UsageError('--curve-every needs --curves FILE');
  if (!(Number.isFinite(a.progressEvery) && a.progressEvery > 0))
    throw new UsageError(`--progress-every must be a number of seconds > 0, got ${a.progressEvery}`);
  if (a.curves === '-') throw new UsageError('--curves needs a file; standard output is for --out -');
  if (a.retryErrors && !a.resume) throw new UsageError('--retry-errors needs --resume --out FILE: the CSV to go over');
  if (!Number.isFinite(a.workerMemory) || a.workerMemory < 16)
    throw new UsageError(`--worker-memory must be a number of MiB >= 16, got ${a.workerMemory}`);
}

/** Workers per core at most: past a few, more threads only share the same cores. */
const WORKERS_PER_CORE = 4;
const GiB = 2 ** 30;

/**
 * Refuses (UsageError) more local workers than a small multiple of the cores, and a
 * sweep whose runs would not fit in this machine's memory: each worker holds one
 * run's memory at a time (two, for small runs; see the piscina executor), and this
 * process may use at most the least of the machine's memory, its cgroup's and its
 * address-space limit.
 */
function checkLocalWorkers(plan: Plan, workers: number): void {
  const cores = availableParallelism();
  const most = WORKERS_PER_CORE * cores;
  if (workers > most)
    throw new UsageError(
      `--workers must be at most ${most} (${WORKERS_PER_CORE} × the ${cores} cores here), got ${workers}`,
    );
  const run = runBytes(plan.problem);
  const constrained = process.constrainedMemory?.() || Infinity;
  const limits = [
    { bytes: totalmem(), what: "this machine's memory" },
    { bytes: constrained, what: 'the memory its cgroup allows' },
    { bytes: addressSpaceLimit() ?? Infinity, what: 'the address space it may use (ulimit -v)' },
  ];
  const limit = limits.reduce((a, b) => (b.bytes < a.bytes ? b : a));
  const gib = (bytes: number): string => `${(bytes / GiB).toFixed(1)} GiB`;
  if (run > limit.bytes)
    throw new UsageError(
      `${plan.name}: a run needs ${gib(run)} of memory, more than the ${gib(limit.bytes)} of ${limit.what}`,
    );
  const fit = Math.floor(limit.bytes / run);
  if (workers > fit)
    throw new UsageError(
      `--workers ${workers}: each holds a run of ${gib(run)}, ${gib(workers * run)} in all, more than the ${gib(limit.bytes)} of ${limit.what}; pass --workers ${fit}`,
    );
}

/** results/<name>-<time>.csv, or with this process's id after the time when that is
 * taken (two sweeps started in the same second), so that a default never needs --force. */
function defaultOut(plan: Plan): string {
  const plain = join('results', `${plan.name}-${timestamp()}.csv`);
  const taken = [plain, manifestPath(plain), lockPath(plain)].some((p) => existsSync(p));
  return taken ? withPid(plain) : plain;
}

const withPid = (csv: string): string => csv.replace(/\.csv$/, `-${process.pid}.csv`);

function timestamp(d = new Date()): string {
  return d
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replace(/[-:]/g, '')
    .replace('T', '-');
}

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
/** Signals that stop a sweep: no new runs, those in progress given GRACE_MS to end.
 * SIGHUP (the terminal went away, or an orchestrator's stop) is taken as SIGTERM. */
const STOPPING = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** How long the runs in progress get after a stopping signal: orchestrators send one
 * SIGTERM, then SIGKILL after a grace period of their own (often 10 or 30 s). */
const GRACE_MS = 5000;

/** The parts of a batch without the runs `left` out. */
function without(batch: ResultBatch, left: ReadonlySet<number>): ResultBatch[] {
  const parts: ResultBatch[] = [];
  let from = 0;
  for (let k = 0; k <= batch.count; k++)
    if (k === batch.count || left.has(batch.first + k)) {
      if (k > from) parts.push(from === 0 && k === batch.count ? batch : sliceBatch(batch, from, k));
      from = k + 1;
    }
  return parts;
}

/** The exit status of a sweep that did every run: 3 when some ended in error (they
 * are not results: say so, and how to run them again). */
function finished(args: Args, outPath: string, curveEvery: number, tally: Tally): number {
  const errors = tally.optimizers.reduce((n, o) => n + o.error, 0);
  if (errors === 0) return EXIT.OK;
  const runs = tally.optimizers.reduce((n, o) => n + o.runs, 0);
  process.stderr.write(
    outPath === '-'
      ? `sweep: ${errors} of ${runs} runs ended in error (status error)\n`
      : `sweep: ${errors} of ${runs} runs ended in error (status error in the CSV); to run them again:\n  ${resumeCommand(args, outPath, curveEvery, true)}\n`,
  );
  return EXIT.RUNS_FAILED;
}

/** The command that finishes an interrupted sweep: the same config, file and curves,
 * and the options that shape its results or its limits. */
function resumeCommand(args: Args, outPath: string, curveEvery: number, retryErrors = false): string {
  const words = [args.config, '--out', outPath];
  if (args.redis) words.push('--redis', redact(args.redis));
  words.push('--resume', ...(retryErrors ? ['--retry-errors'] : []));
  if (args.curves) words.push('--curves', args.curves, '--curve-every', String(curveEvery));
  if (args.maxRuns !== DEFAULT_MAX_RUNS) words.push('--max-runs', String(args.maxRuns));
  if (args.retries > 0) words.push('--retries', String(args.retries));
  if (args.workerMemory !== DEFAULT_WORKER_MEMORY_MB) words.push('--worker-memory', String(args.workerMemory));
  if (args.executor !== 'piscina' && !args.redis) words.push('--executor', args.executor);
  return `npm run sweep -- ${shellCommand(words)}`;
}

async function main(argv: string[]): Promise<number> {
  const eaten = eatenByNpm(argv, process.env);
  if (eaten) throw new UsageError(eaten);
  const args = parseArgs(argv);
  checkArgs(args);
  const plan: Plan = await loadConfig(args.config, { maxRuns: args.maxRuns });
  const toStdout = args.out === '-';
  // A reader of the text for people that goes away (`| head -1`) stops that text, not
  // the sweep: its rows are in the CSV, which must still be closed and marked complete.
  const human = toStdout ? process.stderr : process.stdout;
  let humanGone = false;
  const gone = (e: NodeJS.ErrnoException): void => {
    if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
    humanGone = true;
  };
  human.on('error', gone);
  if (human !== process.stderr) process.stderr.on('error', () => undefined);
  const say = (text: string): void => void (humanGone || human.write(text));

  if (args.dryRun) {
    warn(args, plan);
    say(dryRun(plan));
    return EXIT.OK;
  }
  if (!existsSync(WORKER_FILE)) throw new UsageError(`the build is missing (${WORKER_FILE}); run npm install`);
  if (args.resume && !args.out) throw new UsageError('--resume needs --out FILE: the CSV to continue');
  if (args.resume && toStdout) throw new UsageError('--resume cannot continue standard output (--out -)');
  if (args.resume && args.force) throw new UsageError('--resume and --force contradict each other: choose one');

  if (args.executor === 'redis' && !args.redis) throw new UsageError('--executor redis needs --redis URL');
  // Threads and processes here (not workers on other machines through Redis).
  if (!args.redis) checkLocalWorkers(plan, args.workers);

  // The executor first: if its workers cannot start, no file has been touched.
  const executor = createExecutor(args.redis ? 'redis' : args.executor, {
    workers: args.workers,
    workerMemoryMb: args.workerMemory,
    url: args.redis,
  });
  let ran: Awaited<ReturnType<typeof sweep>>;
  try {
    await executor.ready();
    ran = await sweep(args, plan, executor, say);
  } finally {
    await executor.close();
  }
  // The report reads back the closed CSV and its manifest, as `npm run report` does.
  if (!args.report || ran.outPath === '-') return ran.code;
  if (plan.total > REPORT_MAX_RUNS) {
    say(`no report for ${plan.total} runs (over ${REPORT_MAX_RUNS}): npm run report -- ${ran.outPath}\n`);
    return ran.code;
  }
  // Imported here: vega and vega-lite take about 0.6 s of CPU to load.
  const { writeReport } = await import('./report/write.js');
  const w = await writeReport(ran.outPath, { curves: ran.curves });
  const rerun = w.rerun > 0 ? ` (${w.rerun} runs run again for their curves)` : '';
  say(`report${w.complete ? '' : ' (partial)'} → ${w.html}, summary → ${w.summary}${rerun}\n`);
  return ran.code;
}

async function sweep(
  args: Args,
  plan: Plan,
  executor: Executor,
  say: (text: string) => void,
): Promise<{ code: number; outPath: string; curves?: ReadonlyMap<number, Curve> }> {
  const toStdout = args.out === '-';
  let outPath = toStdout ? '-' : (args.out ?? defaultOut(plan));
  let curveEvery = args.curveEvery ?? defaultCurveEvery(plan);
  const settings = (out: string) => ({
    config: args.config,
    out: toStdout ? undefined : out,
    curves: args.curves,
    curveEvery,
    curveEveryGiven: args.curveEvery !== undefined,
    resume: args.resume,
    retryErrors: args.retryErrors,
    force: args.force,
  });
  let outputs;
  try {
    outputs = await openOutputs(plan, settings(outPath));
  } catch (e) {
    // A default name another sweep took this very second: this process's own instead.
    if (!(e instanceof TakenError) || args.out !== undefined) throw e;
    outputs = await openOutputs(plan, settings((outPath = withPid(outPath))));
  }
  const { file, from, resumed, redo } = outputs;
  curveEvery = outputs.curveEvery; // a resumed sweep's own
  warn(args, plan);
  const cut =
    outputs.dropped > 0
      ? `; ${outputs.dropped} rows after the last sync, not vouched for by its manifest, were cut`
      : '';
  const again = redo.length > 0 ? `; ${redo.length} of them ended in error, and run again` : '';
  if (resumed) say(`resuming ${outPath}: ${from} of ${plan.total} runs already done${cut}${again}\n`);
  if (args.retryErrors && resumed && redo.length === 0) say(`${outPath}: no run ended in error; nothing to retry\n`);
  else if (args.resume) say(`${outPath}: nothing to resume yet; starting the sweep\n`);

  const controller = new AbortController();
  // A reader that stops early (`| head`) closes the pipe: stop the sweep quietly.
  let pipeClosed = false;
  if (toStdout) {
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      pipeClosed = true;
      controller.abort();
      process.stdout.emit('drain');
    });
    process.stdout.write(headerLine(columnsOf(plan)));
  }
  let stoppedBy: NodeJS.Signals | undefined;
  const abandon = new AbortController();
  let grace: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stoppedBy) {
      // Second signal: stop now. The file stays resumable (a torn line is cut on resume).
      process.stderr.write(`\nsweep: stopped at once by ${signal}\n`);
      process.exit(SIGNAL_EXIT[signal]);
    }
    stoppedBy = signal;
    controller.abort();
    const seconds = GRACE_MS / 1000;
    process.stderr.write(
      `\nsweep: ${signal}: no new runs; those in progress get ${seconds} s to finish (again to stop at once)\n`,
    );
    grace = setTimeout(() => {
      abandon.abort();
      process.stderr.write(
        `sweep: runs still in progress after ${seconds} s are abandoned; they will run again on --resume\n`,
      );
    }, GRACE_MS);
  };
  for (const s of STOPPING) process.on(s, onSignal);

  let written = from - redo.length;
  const started = performance.now();
  let live: readonly LiveRun[] = [];
  let workers = 0;
  const tally = new Tally(plan);
  const terminal = process.stderr.isTTY === true;
  const progress = (): string =>
    progressLine({
      done: written - from,
      total: plan.total - from,
      seconds: (performance.now() - started) / 1000,
      live,
      workers: args.redis ? workers : undefined,
      best: tally.best(),
    });
  const ticker = args.progress
    ? setInterval(
        () => {
          // A terminal's line shows the runs as last asked (4 times a second); a plain
          // line, far apart, waits for the answer.
          const asked = executor.progress().then((p) => ((live = p.runs), (workers = p.workers)));
          // Cut to the terminal's width: a line that wraps is not redrawn in place.
          if (terminal) process.stderr.write(`\r\x1b[K${progress().slice(0, (process.stderr.columns || 80) - 1)}`);
          else void asked.then(() => ticking && process.stderr.write(`sweep: ${progress()}\n`));
        },
        terminal ? PROGRESS_MS : args.progressEvery * 1000,
      )
    : undefined;
  ticker?.unref();
  let ticking = ticker !== undefined;
  const stopTicker = (): void => {
    ticking = false;
    clearInterval(ticker);
  };
  const aggregates = new Aggregator(plan);
  // Runs done again are counted as they come back.
  const redone = new Set(redo);
  for (const b of file?.prior ?? [])
    for (const part of without(b, redone)) {
      tally.accept(part);
      aggregates.accept(part);
    }
  const stdout = new RowWriter(plan, async (bytes) => {
    if (!pipeClosed && !process.stdout.write(bytes)) await new Promise((r) => process.stdout.once('drain', r));
  });
  const counter: Consumer = {
    accept(batch) {
      written += batch.count;
    },
  };
  let complete = false;
  const points = Math.floor(plan.steps / curveEvery) + 2;
  const kept =
    args.report &&
    !toStdout &&
    !outputs.curves &&
    !plan.earlyStopping &&
    plan.total * points * curveColumns(plan).length <= KEPT_CURVE_VALUES
      ? new CurveKeeper()
      : undefined;
  let failed = false;
  try {
    const summary = await runPlan(plan, outputs, {
      executor,
      retries: args.retries,
      signal: controller.signal,
      abandon: abandon.signal,
      curveEvery,
      keepCurves: kept !== undefined,
      consumers: [...(file ? [] : [stdout]), tally, aggregates, counter, ...(kept ? [kept] : [])],
    });
    complete = !summary.interrupted;
    if (complete) executor.finished?.(plan);
    stopTicker();
    if (ticker && terminal) process.stderr.write('\r\x1b[K');
    if (pipeClosed) return { code: EXIT.OK, outPath };
    say(bestRuns(plan, tally.optimizers));
    if (plan.seeds.length > 1) say(bestConfigurations(plan, aggregates.summary()));
    const where = toStdout ? 'standard output' : outPath;
    const rate = summary.runs / summary.seconds;
    const shown = rate >= 100 ? Math.round(rate).toLocaleString('en') : rate.toPrecision(2);
    say(`${summary.runs} runs in ${summary.seconds.toFixed(2)} s (${shown} runs/s) → ${where}\n`);
    if (!stoppedBy || !summary.interrupted)
      return { code: finished(args, outPath, curveEvery, tally), outPath, curves: kept?.curves };
    const rest = plan.total - written;
    process.stderr.write(
      toStdout
        ? `sweep: interrupted with ${rest} runs not done\n`
        : `sweep: interrupted with ${rest} of ${plan.total} runs not done; to finish:\n  ${resumeCommand(args, outPath, curveEvery)}\n`,
    );
    return { code: SIGNAL_EXIT[stoppedBy], outPath, curves: kept?.curves };
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    stopTicker();
    clearTimeout(grace);
    for (const s of STOPPING) process.off(s, onSignal);
    await closeOutputs(outputs, complete, !failed);
  }
}

/** What is legal in the config but likely a mistake: once the sweep is sure to
 * start (a refused command prints only why it was refused). */
function warn(args: Args, plan: Plan): void {
  for (const warning of configWarnings(plan, args.config)) process.stderr.write(`sweep: ${oneLine(warning)}\n`);
}

const relaunched = relaunchIfLimited();
if (relaunched) void relaunched.then((code) => (process.exitCode = code));
else
  void main(hideBin(process.argv)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.exitCode = exitCode('sweep', error);
    },
  );
