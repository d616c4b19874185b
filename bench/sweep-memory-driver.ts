/**
 * One bowl sweep as the CLI runs it (the coordinator's heap settings, the executor
 * made by name, the CSV and its manifest written, the tally), in a process of its
 * own, printing its peak memory: `node dist/bench/sweep-memory-driver.js SEEDS
 * WORKERS OUT`. The grid: 6 optimizers × 100 rates (× 5 momenta for momentum and
 * nesterov) = 1,400 runs per seed, 30 steps each.
 *
 * The process is started through a forking shell by bench/index.ts, so that its max
 * RSS is its own (a process inherits its parent's maxRSS across exec).
 */
import '../src/heap.js';
import { pathToFileURL } from 'node:url';
import { parseConfig } from '../src/config/load.js';
import { createExecutor } from '../src/executors/index.js';
import { CsvFile } from '../src/output.js';
import { Tally } from '../src/report.js';
import { runSweep } from '../src/sweep.js';

export interface MemoryResult {
  runs: number;
  seconds: number;
  maxRssBytes: number;
}

export const RUNS_PER_SEED = 1400;

export function bowlConfig(seeds: number): string {
  const lrs = Array.from({ length: 100 }, (_, i) => Number((1e-3 * (1.5 / 1e-3) ** (i / 99)).toPrecision(6)));
  return JSON.stringify({
    name: 'bench-memory',
    problem: { name: 'anisotropic-bowl' },
    optimizers: ['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'],
    lr: lrs,
    momentum: [0.5, 0.8, 0.9, 0.95, 0.99],
    steps: 30,
    seeds: Array.from({ length: seeds }, (_, i) => i),
  });
}

async function main(): Promise<void> {
  const [seeds, workers] = process.argv.slice(2, 4).map(Number);
  const out = process.argv[4];
  const plan = parseConfig(bowlConfig(seeds), 'bench-memory.json', { maxRuns: Number.MAX_SAFE_INTEGER });
  const executor = createExecutor('piscina', { workers });
  await executor.ready();
  const started = performance.now();
  const file = await CsvFile.create(out, plan, true);
  const outcome = await runSweep(plan, { executor, consumers: [file, new Tally(plan)] });
  await file.close(!outcome.interrupted);
  const seconds = (performance.now() - started) / 1000;
  await executor.close();
  const result: MemoryResult = { runs: outcome.runs, seconds, maxRssBytes: process.resourceUsage().maxRSS * 1024 };
  console.log(JSON.stringify(result));
}

// Run only as a script: bench/index.ts imports the constants from here.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
