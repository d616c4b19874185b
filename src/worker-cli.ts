#!/usr/bin/env node
/**
 * `npm run worker -- --redis URL [--workers N]`: a worker process for sweeps run
 * with `npm run sweep -- CONFIG --redis URL`, on this machine or any other that
 * reaches the same Redis. It takes batches until stopped; SIGINT / SIGTERM finish the
 * batches in hand and exit 0 (a second signal exits at once: those batches go to
 * other workers when their lock expires). Redis unreachable at start or lost, or
 * threads that cannot start: one line, exit 1. Bad input: one line, exit 2.
 */
import { availableParallelism } from 'node:os';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UsageError, usageFailure } from './errors.js';
import { DEFAULT_LOCK_MS, RedisWorker } from './executors/bullmq-worker.js';
import { DEFAULT_WORKER_MEMORY_MB } from './executors/index.js';

interface Args {
  redis: string;
  workers: number;
  workerMemory: number;
  lockMs: number;
}

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };
const say = (line: string): void => void process.stderr.write(`${line.replace(/\s*[\r\n]+\s*/g, ' ')}\n`);

function parseArgs(argv: string[]): Args {
  return yargs(argv)
    .scriptName('npm run worker --')
    .usage('$0 --redis URL [options]\n\nTake batches of sweeps from Redis and run them on this machine.')
    .option('redis', {
      type: 'string',
      demandOption: true,
      requiresArg: true,
      describe: 'the Redis the coordinator uses: redis://[:password@]HOST:PORT[/db], or rediss:// for TLS',
    })
    .option('workers', {
      alias: 'w',
      type: 'number',
      default: availableParallelism(),
      describe: 'worker threads (default: the available cores)',
    })
    .option('worker-memory', {
      type: 'number',
      default: DEFAULT_WORKER_MEMORY_MB,
      describe: 'heap limit of each worker thread, MiB',
    })
    .option('lock-ms', {
      type: 'number',
      default: DEFAULT_LOCK_MS,
      describe: "how long a dead worker's batches wait before another takes them, ms",
    })
    .strict()
    .help()
    .alias('help', 'h')
    .version(false)
    .fail(usageFailure())
    .parseSync() as unknown as Args;
}

function checkArgs(a: Args): void {
  if (!Number.isInteger(a.workers) || a.workers < 1)
    throw new UsageError(`--workers must be an integer >= 1, got ${a.workers}`);
  if (!Number.isFinite(a.workerMemory) || a.workerMemory < 16)
    throw new UsageError(`--worker-memory must be a number of MiB >= 16, got ${a.workerMemory}`);
  if (!Number.isInteger(a.lockMs) || a.lockMs < 100)
    throw new UsageError(`--lock-ms must be an integer >= 100, got ${a.lockMs}`);
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  checkArgs(args);
  let settle: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => (settle = resolve));
  const worker: RedisWorker = new RedisWorker({
    url: args.redis,
    workers: args.workers,
    workerMemoryMb: args.workerMemory,
    lockMs: args.lockMs,
    log: say,
    onFatal: (message) => {
      say(message.startsWith('worker:') ? message : `worker: ${message}`);
      worker.kill();
      settle(1);
    },
  });
  let stoppedBy: string | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stoppedBy) {
      say(`worker: stopped at once by ${signal}`);
      process.exit(SIGNAL_EXIT[signal]);
    }
    stoppedBy = signal;
    say(`worker: ${signal}: finishing ${worker.batchesInHand} batches in hand (again to stop at once)`);
    void worker.stop().then(() => {
      say(`worker: stopped; ${worker.done} batches run`);
      settle(0);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await worker.start();
  } catch (e) {
    worker.kill();
    throw e;
  }
  say(`worker ${worker.name}: ${worker.threads} threads, taking batches from ${worker.shown}`);
  return finished;
}

main(hideBin(process.argv)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      say(`worker: ${error.message}`);
      process.exit(2);
    }
    say(`worker: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
