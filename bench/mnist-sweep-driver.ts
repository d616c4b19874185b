/**
 * One MNIST sweep in a process of its own, so that bench/mnist.ts can read its peak
 * memory (max RSS covers the process: coordinator, worker threads, shared memory):
 *
 *     node dist/bench/mnist-sweep-driver.js WORKERS STEPS
 *
 * The sweep: the default 784-100-100-100-100-10 net, sgd, momentum, adagrad and adam
 * at the book's rates, seeds 0 and 1 (8 runs), STEPS minibatches of 128 each,
 * through runSweep and a PiscinaExecutor of WORKERS threads started beforehand.
 * Prints one JSON line (`DriverResult`).
 *
 * Start it from a small process: on Linux, max RSS passes from parent to child
 * through fork and exec, so a child forked by a large process reports at least that
 * process's size (bench/mnist.ts starts it through /bin/sh for that reason, and this
 * prints VmHWM too, the child's own high-water mark, to check).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parse } from 'csv-parse/sync';
import { parseConfig } from '../src/config/load.js';
import { createExecutor } from '../src/executors/index.js';
import { RowWriter, columnsOf, headerLine } from '../src/csv.js';
import { runSweep } from '../src/sweep.js';

export const SWEEP_OPTIMIZERS = ['sgd', 'momentum', 'adagrad', 'adam'] as const;
export const SWEEP_SEEDS = [0, 1];

export interface DriverResult {
  workers: number;
  steps: number;
  runs: number;
  /** Wall time of runSweep: loading the data, the runs, the rows written. */
  seconds: number;
  /** The runs' own durations (duration_ms) added up, in seconds: against `seconds`
   * × workers, what the threads spent running rather than waiting. */
  runSeconds: number;
  /** RSS once the pool's threads had started, before the sweep. */
  rssBeforeBytes: number;
  /** process.resourceUsage().maxRSS, in bytes: the peak over the process's life. */
  maxRssBytes: number;
  /** VmHWM of /proc/self/status, in bytes (Linux; else null): the peak RSS of this
   * process's own memory, which nothing inherits. */
  vmHwmBytes: number | null;
  /** SHA-256 of the rows without duration_ms: equal across worker counts. */
  digest: string;
  statuses: Record<string, number>;
  /** Mean test accuracy of the runs (a check that they trained). */
  meanTestAccuracy: number;
}

export function sweepConfig(steps: number): string {
  return JSON.stringify({
    name: 'bench-mnist',
    problem: { name: 'mnist-mlp' },
    optimizers: SWEEP_OPTIMIZERS,
    steps,
    seeds: SWEEP_SEEDS,
  });
}

function highWaterMark(): number | null {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kb === undefined ? null : Number(kb) * 1024;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const [workers, steps] = process.argv.slice(2).map(Number);
  if (!(Number.isInteger(workers) && workers > 0 && Number.isInteger(steps) && steps > 0))
    throw new Error('usage: node dist/bench/mnist-sweep-driver.js WORKERS STEPS');
  const plan = parseConfig(sweepConfig(steps), 'bench-mnist.json');
  const executor = createExecutor('piscina', { workers });
  await executor.ready();
  const rssBeforeBytes = process.memoryUsage().rss;
  let csv = '';
  const started = performance.now();
  const summary = await runSweep(plan, {
    executor,
    consumers: [new RowWriter(plan, (bytes) => void (csv += Buffer.from(bytes).toString('utf8')))],
  });
  const seconds = (performance.now() - started) / 1000;
  await executor.close();

  const header = headerLine(columnsOf(plan));
  const rows: Record<string, string>[] = parse(csv.startsWith(header) ? csv : header + csv, { columns: true });
  const statuses: Record<string, number> = {};
  for (const row of rows) statuses[row.status] = (statuses[row.status] ?? 0) + 1;
  const digest = createHash('sha256')
    .update(JSON.stringify(rows.map(({ duration_ms: _, ...rest }) => rest)))
    .digest('hex');
  const result: DriverResult = {
    workers,
    steps,
    runs: summary.runs,
    seconds,
    runSeconds: rows.reduce((sum, row) => sum + Number(row.duration_ms), 0) / 1000,
    rssBeforeBytes,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    vmHwmBytes: highWaterMark(),
    digest,
    statuses,
    meanTestAccuracy: rows.reduce((s, row) => s + Number(row.test_acc), 0) / rows.length,
  };
  console.log(JSON.stringify(result));
}

// Run only as a script: bench/mnist.ts imports the types and the config from here.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
