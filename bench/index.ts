/**
 * `npm run bench`: the figures quoted in the README, measured side by side in one
 * run and reported as ratios (machines here are noisy; ratios travel better).
 * Each figure is the median of REPEATS interleaved measurements.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config/load.js';
import { Arena, arenaBytes } from '../src/arena.js';
import { optimizerKernel } from '../src/kernels/index.js';
import { adam } from '../src/optimizers/adam.js';
import { defaultHyper } from '../src/optimizers/index.js';
import { createExecutor } from '../src/executors/index.js';
import type { Executor } from '../src/executor.js';
import { KERNEL_MIN_DIM } from '../src/run.js';
import { RowWriter, columnsOf, headerLine } from '../src/csv.js';
import { runSweep } from '../src/sweep.js';
import { Worker } from 'node:worker_threads';
import { spawnSync } from 'node:child_process';
import { RUNS_PER_SEED, type MemoryResult } from './sweep-memory-driver.js';
import { plainRuns, type PlainGrid } from './bowl-plain.js';

const REPEATS = 5;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const logspace = (lo: number, hi: number, n: number): number[] =>
  Array.from({ length: n }, (_, i) => Number((lo * (hi / lo) ** (i / (n - 1))).toPrecision(6)));

const dir = mkdtempSync(join(tmpdir(), 'sweep-bench-'));
const lines: string[] = [];
const say = (line: string): void => {
  lines.push(line);
  console.log(line);
};

/** Runs per second of the plain loop, timed inside `thread`. */
function plainInThread(thread: Worker, grid: PlainGrid, out: string): Promise<number> {
  return new Promise((resolve, reject) => {
    thread.once('message', ({ runs, ms }: { runs: number; ms: number }) => resolve(runs / (ms / 1000)));
    thread.once('error', reject);
    thread.postMessage({ grid, out });
  });
}

async function sweepThroughput(): Promise<void> {
  const grid: PlainGrid = { lrs: logspace(1e-3, 1.5, 100), momenta: [0.5, 0.8, 0.9, 0.95, 0.99], seeds: 72, steps: 30 };
  const plan = parseConfig(
    JSON.stringify({
      name: 'bench-bowl',
      problem: { name: 'anisotropic-bowl' },
      optimizers: ['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'],
      lr: grid.lrs,
      momentum: grid.momenta,
      steps: grid.steps,
      seeds: Array.from({ length: grid.seeds }, (_, i) => i),
    }),
    'bench',
  );
  if (plan.total !== plainRuns(grid)) throw new Error(`grid mismatch: ${plan.total} vs ${plainRuns(grid)}`);
  const header = headerLine(columnsOf(plan));
  const executors = [1, 2].map((workers) => createExecutor('piscina', { workers }));
  await Promise.all(executors.map((e) => e.ready()));

  const sweepOnce = async (executor: Executor): Promise<number> => {
    const path = join(dir, `sweep-${executor.size}.csv`);
    const started = performance.now();
    const file = await open(path, 'w');
    await file.write(header);
    const summary = await runSweep(plan, {
      executor,
      consumers: [new RowWriter(plan, async (bytes) => void (await file.write(bytes)))],
    });
    await file.close();
    const seconds = (performance.now() - started) / 1000;
    if (summary.runs !== plan.total) throw new Error('sweep incomplete');
    return plan.total / seconds;
  };
  const plainThread = new Worker(new URL('./bowl-plain-thread.js', import.meta.url));
  const rates: Record<string, number[]> = { plain: [], w1: [], w2: [] };
  for (let r = 0; r < REPEATS; r++) {
    rates.plain.push(await plainInThread(plainThread, grid, join(dir, 'plain.csv')));
    rates.w1.push(await sweepOnce(executors[0]));
    rates.w2.push(await sweepOnce(executors[1]));
  }
  await Promise.all(executors.map((e) => e.close()));
  await plainThread.terminate();
  const [plain, w1, w2] = [median(rates.plain), median(rates.w1), median(rates.w2)];
  say(`\n### Analytic sweep: ${plan.total} runs of 30 steps on the anisotropic bowl, CSV written\n`);
  say('| | runs/s | vs plain loop |');
  say('|---|---:|---:|');
  say(`| plain single-thread loop | ${Math.round(plain).toLocaleString('en')} | 1.00 |`);
  say(`| sweep, 1 worker | ${Math.round(w1).toLocaleString('en')} | ${(w1 / plain).toFixed(2)} |`);
  say(`| sweep, 2 workers | ${Math.round(w2).toLocaleString('en')} | ${(w2 / plain).toFixed(2)} |`);
  say(`\n2 workers / 1 worker: **${(w2 / w1).toFixed(2)}×**`);
}

/** One Adam step over a 10-million-parameter quadratic's arrays, as the engine runs it
 * (the SIMD kernel, on a run's shared WebAssembly memory) and as the JS loop does,
 * next to a plain copy of arrays of the same size: the memory-bandwidth limit. */
function adamBandwidth(): void {
  const n = 10_000_000;
  const FLOAT64 = 8;
  // Adam reads W, g, m, v and writes W, m, v; a copy reads one array and writes one.
  const adamBytes = 7 * n * FLOAT64;
  const copyBytes = 2 * n * FLOAT64;
  const arena = Arena.create(arenaBytes(n, n, n, n));
  const [W, g, m, v] = [arena.f64(n), arena.f64(n), arena.f64(n), arena.f64(n)];
  const state = { arrays: [m, v], count: 0 };
  for (let i = 0; i < n; i++) {
    W[i] = Math.sin(i);
    g[i] = Math.cos(i);
    m[i] = 0;
    v[i] = 0;
  }
  const kernel = optimizerKernel('adam', arena.memory);
  const src = new Float64Array(n).fill(1);
  const dst = new Float64Array(n);
  dst.set(src); // touch the pages once
  const h = defaultHyper('adam');
  const rates = { kernel: [] as number[], js: [] as number[], copy: [] as number[] };
  const time = (f: () => void): number => {
    const t = performance.now();
    f();
    return performance.now() - t;
  };
  for (let r = 0; r < REPEATS + 1; r++) {
    const tKernel = time(() => kernel(W, g, state, h));
    const tJs = time(() => adam.update(W, g, state, h));
    const tCopy = time(() => dst.set(src));
    if (r > 0) {
      rates.kernel.push(adamBytes / tKernel / 1e6);
      rates.js.push(adamBytes / tJs / 1e6);
      rates.copy.push(copyBytes / tCopy / 1e6);
    }
  }
  const [k, j, c] = [median(rates.kernel), median(rates.js), median(rates.copy)];
  say(`\n### One Adam step over 10,000,000 float64 parameters\n`);
  say('| | GB/s | of copy bandwidth |');
  say('|---|---:|---:|');
  say(`| plain copy (\`dst.set(src)\`) | ${c.toFixed(1)} | 100% |`);
  say(
    `| adam, WebAssembly SIMD kernel (what runs use from ${KERNEL_MIN_DIM} parameters) | ${k.toFixed(1)} | ${((100 * k) / c).toFixed(0)}% |`,
  );
  say(`| adam, JavaScript loop | ${j.toFixed(1)} | ${((100 * j) / c).toFixed(0)}% |`);
  say(
    `\nBytes counted: 56 per parameter for Adam (reads W, g, m, v; writes W, m, v), 16 per element for the copy. Medians of ${REPEATS}.`,
  );
}

/** Peak memory of the CLI's sweep against the number of runs: the same bowl grid
 * with more seeds, each sweep in a child process (bench/sweep-memory-driver.ts). */
function sweepMemory(): void {
  const driver = new URL('./sweep-memory-driver.js', import.meta.url).pathname;
  const sizes = [12, 86, 857, 7143]; // × 1,400 runs per seed: 16,800 … 10,000,200 runs
  say(`\n### Memory: peak RSS against the sweep's length (bowl, 30 steps, 2 workers, CSV written)\n`);
  say('| runs | peak RSS, MB | vs 120,400 runs | runs/s |');
  say('|---:|---:|---:|---:|');
  const rows: { runs: number; mb: number; rate: number }[] = [];
  for (const seeds of sizes) {
    // Through a shell that forks it, so that its max RSS is its own, not this process's.
    const child = spawnSync(
      '/bin/sh',
      ['-c', '"$0" "$@"; exit $?', process.execPath, driver, String(seeds), '2', join(dir, `memory-${seeds}.csv`)],
      { encoding: 'utf8' },
    );
    if (child.error || child.status !== 0)
      throw new Error(`${driver} ${seeds} failed: ${child.error?.message ?? child.stderr}`);
    const r = JSON.parse(child.stdout) as MemoryResult;
    rows.push({ runs: r.runs, mb: r.maxRssBytes / 1e6, rate: r.runs / r.seconds });
    rmSync(join(dir, `memory-${seeds}.csv`), { force: true });
  }
  const base = rows.find((r) => r.runs === 86 * RUNS_PER_SEED)!;
  for (const r of rows)
    say(
      `| ${r.runs.toLocaleString('en')} | ${r.mb.toFixed(0)} | ${(r.mb / base.mb).toFixed(2)}× | ${Math.round(r.rate).toLocaleString('en')} |`,
    );
  say(
    `\nPeak RSS: process.resourceUsage().maxRSS of the child process, worker threads included; runs/s includes writing the CSV and the manifest.`,
  );
}

/** `npm run bench -- bowl adam` runs only those sections; no names, all of them. */
const SECTIONS = ['bowl', 'memory', 'adam', 'mnist', 'early', 'redis', 'report'] as const;
const asked = process.argv.slice(2);
for (const name of asked)
  if (!(SECTIONS as readonly string[]).includes(name)) {
    console.error(`bench: unknown section ${JSON.stringify(name)}; sections: ${SECTIONS.join(', ')}`);
    process.exit(2);
  }
const wanted = (name: (typeof SECTIONS)[number]): boolean => asked.length === 0 || asked.includes(name);

say(
  `sweep bench — ${new Date().toISOString().slice(0, 10)}, ${cpus()[0].model}, ${cpus().length} cores, Node ${process.version}`,
);
try {
  if (wanted('bowl')) await sweepThroughput();
  if (wanted('memory')) sweepMemory();
  if (wanted('adam')) adamBandwidth();
  // Through BullMQ on a real redis-server (bench/redis.ts).
  if (wanted('redis')) await (await import('./redis.js')).redisBench(say, dir);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// MNIST (bench/mnist.ts): ms per training iteration against NumPy, an 8-run MNIST
// sweep with 1 and 2 workers, and its peak memory.
if (wanted('mnist')) {
  const { mnistBench } = await import('./mnist.js');
  await mnistBench(say);
}

// Early stopping (bench/early.ts): experiment C with and without successive halving,
// the MNIST grid with and without hyperband.
if (wanted('early')) {
  const { earlyBench } = await import('./early.js');
  await earlyBench(say);
}

// The report (bench/report.ts): the HTML report of a 100,000-run sweep, its size and
// its open time in Chromium.
if (wanted('report')) {
  const { reportBench } = await import('./report.js');
  await reportBench(say);
}
