#!/usr/bin/env node
/**
 * The command line: parses options (yargs), checks every input before anything
 * runs, and maps failures to exit codes: 2 for bad input (one line), 1 for an
 * internal failure.
 */
import { constants, existsSync } from 'node:fs';
import { access, mkdir, open, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DEFAULT_MAX_RUNS, loadConfig } from './config/load.js';
import { UsageError } from './errors.js';
import type { Plan } from './grid.js';
import { PiscinaExecutor, WORKER_FILE } from './pool.js';
import { bestRuns, dryRun, progressLine } from './report.js';
import { runSweep } from './sweep.js';

export const EXIT = { OK: 0, INTERNAL: 1, USAGE: 2 } as const;

/** How often the live progress line is redrawn. */
const PROGRESS_MS = 250;

interface Args {
  config: string;
  workers: number;
  out?: string;
  dryRun: boolean;
  maxRuns: number;
  progress: boolean;
}

function parseArgs(argv: string[]): Args {
  return yargs(argv)
    .scriptName('sweep')
    .usage('$0 <config> [options]\n\nRun a hyperparameter sweep of gradient-descent optimizers and write one CSV row per run.')
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
      describe: 'CSV to write; "-" for standard output (default: results/<name>-<time>.csv)',
    })
    .option('dry-run', { type: 'boolean', default: false, describe: 'print the number of runs per optimizer, run nothing' })
    .option('max-runs', {
      type: 'number',
      default: DEFAULT_MAX_RUNS,
      describe: 'refuse a sweep with more runs than this',
    })
    .option('progress', {
      type: 'boolean',
      default: true,
      describe: 'show live progress on a terminal (--no-progress to hide)',
    })
    .example('$0 configs/grid.json', 'all six optimizers on the anisotropic bowl')
    .example('$0 configs/book-bowl.json --out - | head', 'the book figure, CSV to standard output')
    .example('$0 configs/mnist.json --dry-run', 'count the runs first')
    .strict()
    .help()
    .alias('help', 'h')
    .version(false)
    .wrap(Math.min(100, process.stderr.columns ?? 100))
    .fail((message, error) => {
      throw error ?? new UsageError(message);
    })
    .parseSync() as unknown as Args;
}

function checkArgs(a: Args): void {
  if (!Number.isInteger(a.workers) || a.workers < 1)
    throw new UsageError(`--workers must be an integer >= 1, got ${a.workers}`);
  if (!Number.isInteger(a.maxRuns) || a.maxRuns < 1)
    throw new UsageError(`--max-runs must be an integer >= 1, got ${a.maxRuns}`);
}

function timestamp(d = new Date()): string {
  return d.toISOString().replace(/\.\d+Z$/, '').replace(/[-:]/g, '').replace('T', '-');
}

/** Opens the output, refusing to overwrite, after checking its folder is writable. */
async function openOutput(path: string): Promise<FileHandle> {
  const dir = dirname(path);
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (e) {
    throw new UsageError(`--out ${path}: cannot write to folder ${dir} (${(e as NodeJS.ErrnoException).code})`);
  }
  try {
    return await open(path, 'wx');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(`--out ${path}: file exists; choose another --out or remove it`);
    throw new UsageError(`--out ${path}: cannot create (${code})`);
  }
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  checkArgs(args);
  const plan: Plan = await loadConfig(args.config, { maxRuns: args.maxRuns });
  const toStdout = args.out === '-';
  const say = (text: string): void => void (toStdout ? process.stderr : process.stdout).write(text);

  if (args.dryRun) {
    say(dryRun(plan));
    return EXIT.OK;
  }
  if (!existsSync(WORKER_FILE)) throw new UsageError(`the build is missing (${WORKER_FILE}); run npm install`);

  const outPath = toStdout ? '-' : (args.out ?? join('results', `${plan.name}-${timestamp()}.csv`));
  const file = toStdout ? undefined : await openOutput(outPath);
  const executor = new PiscinaExecutor({ workers: args.workers });
  const showProgress = args.progress && process.stderr.isTTY;
  let written = 0;
  const started = performance.now();
  const ticker = showProgress
    ? setInterval(() => {
        const line = progressLine(written, plan.total, (performance.now() - started) / 1000, executor.live());
        process.stderr.write(`\r\x1b[K${line}`);
      }, PROGRESS_MS)
    : undefined;
  try {
    const summary = await runSweep(plan, {
      executor,
      write: async (text) => {
        if (file) await file.write(text);
        else if (!process.stdout.write(text)) await new Promise((r) => process.stdout.once('drain', r));
      },
      onWritten: (runs) => {
        written = runs;
      },
    });
    if (ticker) process.stderr.write('\r\x1b[K');
    say(bestRuns(plan, summary));
    const where = toStdout ? 'standard output' : relative(process.cwd(), outPath);
    say(`${summary.runs} runs in ${summary.seconds.toFixed(2)} s (${Math.round(summary.runs / summary.seconds)} runs/s) → ${where}\n`);
    return EXIT.OK;
  } finally {
    if (ticker) clearInterval(ticker);
    await file?.close();
    await executor.close();
  }
}

main(hideBin(process.argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`sweep: ${error.message}\n`);
      process.exitCode = EXIT.USAGE;
    } else {
      process.stderr.write(`sweep: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = EXIT.INTERNAL;
    }
  },
);
