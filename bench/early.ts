/**
 * The early-stopping section of `npm run bench` (called from bench/index.ts):
 * experiment C (configs/mnist-search.json, 100 trials) with and without successive
 * halving, and the 6-optimizer MNIST grid with and without hyperband, side by side in
 * one run on the same 2-worker pool, interleaved: the best held-out accuracy, the
 * updates done (reruns included) and the wall time.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../src/config/load.js';
import { columnsOf, rankMetric } from '../src/csv.js';
import { runEarlyStopping } from '../src/early.js';
import { createExecutor } from '../src/executors/index.js';
import type { Executor } from '../src/executor.js';
import type { Plan } from '../src/grid.js';
import { ROOT } from '../src/paths.js';
import { records, type RunRecord } from '../src/results.js';
import { runSweep } from '../src/sweep.js';

const REPEATS = 3;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Measured {
  seconds: number;
  updates: number;
  best: number;
  bestRun: number;
}

async function measure(plan: Plan, executor: Executor): Promise<Measured> {
  const got: RunRecord[] = [];
  const consumers = [{ accept: (b: Parameters<typeof records>[0]) => void got.push(...records(b)) }];
  const started = performance.now();
  const updates = plan.earlyStopping
    ? (await runEarlyStopping(plan, { executor, consumers, journal: { accept: () => undefined } })).updates
    : (await runSweep(plan, { executor, consumers }), plan.total * plan.steps);
  const seconds = (performance.now() - started) / 1000;
  const columns = columnsOf(plan);
  const m = rankMetric(columns);
  const sign = columns.rank.higher ? 1 : -1;
  let best = -Infinity;
  let bestRun = -1;
  for (const r of got)
    if (r.status === 'ok') {
      const v = sign * (m < 0 ? r.finalLoss : r.metrics[m]);
      if (v > best) [best, bestRun] = [v, r.runId];
    }
  return { seconds, updates, best: sign * best, bestRun };
}

export async function earlyBench(say: (line: string) => void): Promise<void> {
  const executor = createExecutor('piscina', { workers: 2 });
  await executor.ready();
  const load = (file: string) => parseConfig(readFileSync(join(ROOT, 'configs', file), 'utf8'), file);
  const pairs: [string, Plan, Plan][] = [
    ['experiment C (mnist-search, 100 trials)', load('mnist-search.json'), load('mnist-search-halving.json')],
    ['6-optimizer MNIST grid (mnist-grid, 48 runs)', load('mnist-grid.json'), load('mnist-grid-hyperband.json')],
  ];
  try {
    for (const [what, full, early] of pairs) {
      const runs: { full: Measured[]; early: Measured[] } = { full: [], early: [] };
      for (let r = 0; r < REPEATS; r++) {
        runs.full.push(await measure(full, executor));
        runs.early.push(await measure(early, executor));
      }
      const f = runs.full[0];
      const e = runs.early[0];
      const column = columnsOf(full).rank.column;
      const [tf, te] = [median(runs.full.map((x) => x.seconds)), median(runs.early.map((x) => x.seconds))];
      say(`\n### Early stopping: ${what}, 2 workers\n`);
      say(`| | best ${column} (run) | updates | of the full | wall time, s (median of ${REPEATS}) | of the full |`);
      say('|---|---:|---:|---:|---:|---:|');
      say(
        `| full search | ${f.best.toFixed(4)} (${f.bestRun}) | ${f.updates.toLocaleString('en')} | 100% | ${tf.toFixed(2)} | 100% |`,
      );
      say(
        `| ${early.earlyStopping!.method} | ${e.best.toFixed(4)} (${e.bestRun}) | ${e.updates.toLocaleString('en')} | ${((100 * e.updates) / f.updates).toFixed(1)}% | ${te.toFixed(2)} | ${((100 * te) / tf).toFixed(1)}% |`,
      );
      const same = runs.early.every((x) => x.best === e.best && x.bestRun === e.bestRun);
      say(
        `\nBest ${column} differs by ${Math.abs(f.best - e.best).toFixed(4)}; the same in every repeat: ${same ? 'yes' : 'no'}.`,
      );
    }
  } finally {
    await executor.close();
  }
}
