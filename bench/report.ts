/**
 * `npm run bench -- report`: the HTML report of a 100,000-run sweep, its size and its
 * open time in Chromium (goals: under 10 MB, under 3 s). Two sweeps: a grid (the
 * analytic bench's 100,800 bowl runs: 1,400 configurations of 72 seeds) and a random
 * search (100,002 Rosenbrock trials of one seed each: every run its own
 * configuration). Each runs through the CLI (`npm run sweep`, 2 workers) into a CSV
 * and its manifest, is read back (`readSweep`), has the runs its figures draw re-run
 * for their curves, and is rendered; Chromium then opens the file REPEATS times in a
 * fresh profile.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aggregate } from '../src/aggregate.js';
import { ROOT } from '../src/paths.js';
import { readSweep } from '../src/read.js';
import { curveRuns } from '../src/report/info.js';
import { renderReport } from '../src/report/render.js';
import { rerunCurves } from '../src/report/rerun.js';
import { CHROMIUM, INSTALL, hasChromium, launch, open } from './chromium.js';

const REPEATS = 5;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const logspace = (lo: number, hi: number, n: number): number[] =>
  Array.from({ length: n }, (_, i) => Number((lo * (hi / lo) ** (i / (n - 1))).toPrecision(6)));

const SWEEPS = {
  grid: {
    name: 'report-grid',
    problem: { name: 'anisotropic-bowl' },
    optimizers: ['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'],
    lr: logspace(1e-3, 1.5, 100),
    momentum: [0.5, 0.8, 0.9, 0.95, 0.99],
    steps: 30,
    seeds: Array.from({ length: 72 }, (_, i) => i),
  },
  search: {
    name: 'report-search',
    problem: { name: 'rosenbrock', dim: 2 },
    optimizers: ['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'],
    lr: { distribution: 'log-uniform', min: 1e-5, max: 1 },
    momentum: { distribution: 'uniform', min: 0.5, max: 0.99 },
    trials: 16_667,
    steps: 100,
  },
};

interface Measured {
  runs: number;
  configurations: number;
  sweepS: number;
  readS: number;
  curveRuns: number;
  rerunS: number;
  renderS: number;
  bytes: number;
  openMs: number[];
  loadEventMs: number[];
}

async function measure(config: { name: string }, dir: string): Promise<Measured> {
  const configFile = join(dir, `${config.name}.json`);
  const csv = join(dir, `${config.name}.csv`);
  writeFileSync(configFile, JSON.stringify(config));
  let t = performance.now();
  execFileSync(
    process.execPath,
    [join(ROOT, 'dist/src/cli.js'), configFile, '--out', csv, '--workers', '2', '--no-progress'],
    {
      stdio: 'ignore',
    },
  );
  const sweepS = (performance.now() - t) / 1000;
  t = performance.now();
  const { plan, records, complete } = await readSweep(csv);
  const readS = (performance.now() - t) / 1000;
  if (!complete || records.length !== plan.total) throw new Error(`read ${records.length} of ${plan.total} runs`);
  t = performance.now();
  const ids = curveRuns(plan, aggregate(plan, records));
  const curves = await rerunCurves(plan, ids, Math.max(1, Math.round(plan.steps / 100)));
  const rerunS = (performance.now() - t) / 1000;
  t = performance.now();
  const html = await renderReport({ plan, records, curves, complete: true });
  const renderS = (performance.now() - t) / 1000;
  const file = join(dir, `${plan.name}.html`);
  writeFileSync(file, html);
  const openMs: number[] = [];
  const loadEventMs: number[] = [];
  const browser = await launch();
  try {
    for (let r = 0; r < REPEATS; r++) {
      const page = await open(browser, file);
      if (page.errors.length > 0) throw new Error(`${file}: ${page.errors[0]}`);
      openMs.push(page.loadMs);
      loadEventMs.push(
        // In the page (a browser's Performance, not Node's types): navigation timing.
        Number(await page.page.evaluate('performance.getEntriesByType("navigation")[0].loadEventEnd')),
      );
      await page.page.close();
    }
  } finally {
    await browser.close();
  }
  return {
    runs: plan.total,
    configurations: plan.total / plan.seeds.length,
    sweepS,
    readS,
    curveRuns: ids.length,
    rerunS,
    renderS,
    bytes: statSync(file).size,
    openMs,
    loadEventMs,
  };
}

export async function reportBench(say: (line: string) => void): Promise<void> {
  say(`\n### The report of a 100,000-run sweep\n`);
  if (!hasChromium()) {
    say(`skipped: no Chromium at ${CHROMIUM} (${INSTALL})`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'sweep-report-bench-'));
  const rows: [string, Measured][] = [];
  try {
    for (const [name, config] of Object.entries(SWEEPS)) rows.push([name, await measure(config, dir)]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  say(
    '| sweep | runs | configurations | report, MB | open in Chromium, s (median) | (max) | load event, s (median) | render, s | runs re-run for curves |',
  );
  say('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [name, m] of rows)
    say(
      `| ${name} | ${m.runs.toLocaleString('en-US')} | ${m.configurations.toLocaleString('en-US')} | ${(m.bytes / 1e6).toFixed(2)} | ${(median(m.openMs) / 1000).toFixed(2)} | ${(Math.max(...m.openMs) / 1000).toFixed(2)} | ${(median(m.loadEventMs) / 1000).toFixed(2)} | ${m.renderS.toFixed(1)} | ${m.curveRuns} (${m.rerunS.toFixed(2)} s) |`,
    );
  say(
    `\nOpen: from page.goto to the load event of a file:// page (inline SVG, no script but the leaderboard's sort), in a fresh headless Chromium (${CHROMIUM}), ${REPEATS} times; load event: the page's own navigation timing. Render: renderReport (aggregating, the contour, compiling and rendering every figure with vega-lite and vega). Sweeps by the CLI on 2 workers (${rows.map(([n, m]) => `${n} ${m.sweepS.toFixed(1)} s`).join(', ')}), their CSV read back by readSweep in ${rows.map(([n, m]) => `${n} ${m.readS.toFixed(1)} s`).join(', ')}. Goals: under 10 MB, under 3 s.`,
  );
}
