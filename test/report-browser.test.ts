/**
 * The report in a real browser: Debian's Chromium opens each page from file:// and
 * the tests check what a person would see: no console error, no request but the
 * page itself (file:) and data:, every figure that applies and none that does not,
 * with the right marks (a trajectory has steps + 1 points; a heatmap one cell per
 * grid pair, hatched where no run was ok). Screenshots go to screenshots/ (ignored
 * by git). Without Chromium the suite is skipped with one line, except under CI.
 */
import { mkdirSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReport, warnings } from '../src/report/render.js';
import type { Curve, RunRecord } from '../src/results.js';
import { CHROMIUM, INSTALL, hasChromium, launch, open, type Browser, type Opened } from '../bench/chromium.js';
import { BOOK_BOWL as bookBowl, plan, runPlan, type Fixture } from './sweep-fixture.js';

const SHOTS = fileURLToPath(new URL('../screenshots/', import.meta.url));
const CI = process.env.CI === 'true';
const skip = !hasChromium() && !CI;
// One line, straight to the terminal (not through the test runner's capture).
if (skip) writeSync(2, `report browser tests skipped: no Chromium at ${CHROMIUM} (${INSTALL})\n`);

// lr 3 overshoots the bowl's y-curvature (|1 − 3·2| = 5 a step, and more with
// momentum): those runs overflow within 300 steps and diverge.
const bowlGrid = {
  name: 'bowl-grid',
  problem: { name: 'anisotropic-bowl' },
  optimizers: ['sgd', 'momentum', 'nesterov', 'adam'],
  lr: [0.01, 0.1, 1, 3],
  momentum: [0.5, 0.9],
  steps: 300,
  seeds: [0, 1],
};
const rosenbrockSearch = {
  name: 'rosenbrock-search',
  problem: { name: 'rosenbrock', dim: 2 },
  optimizers: ['sgd', 'momentum', 'adam'],
  lr: { distribution: 'log-uniform', min: 1e-5, max: 0.5 },
  momentum: { distribution: 'uniform', min: 0.5, max: 0.99 },
  trials: 12,
  steps: 400,
};
const mnistSearch = {
  name: 'mnist-search-small',
  problem: { name: 'mnist-mlp', hidden: [30, 30], batch_size: 50, train_samples: 300, validation: 0.2 },
  optimizers: ['sgd'],
  lr: { distribution: 'log-uniform', min: 1e-4, max: 0.5 },
  weight_decay: { distribution: 'log-uniform', min: 1e-8, max: 1e-4 },
  trials: 24,
  steps: 60,
};
const mnistB = {
  name: 'mnist-small',
  problem: { name: 'mnist-mlp', hidden: [30, 30], train_samples: 1000 },
  optimizers: [
    { name: 'sgd', lr: 0.01 },
    { name: 'momentum', lr: 0.01 },
    { name: 'adagrad', lr: 0.01 },
    { name: 'adam', lr: 0.001 },
  ],
  steps: 150,
  seeds: [0, 1],
};

interface Page extends Opened {
  fixture: Fixture;
  html: string;
}

let browser: Browser;
const pages = new Map<string, Page>();

async function report(
  name: string,
  fixture: Fixture,
  extra: { records?: RunRecord[]; curves?: Map<number, Curve>; complete?: boolean } = {},
): Promise<void> {
  const html = await renderReport({
    plan: fixture.plan,
    records: extra.records ?? fixture.records,
    curves: extra.curves ?? fixture.curves,
    complete: extra.complete ?? true,
    curveColumns: fixture.curveColumns,
  });
  expect(warnings.splice(0), name).toEqual([]);
  const file = join(SHOTS, `${name}.html`);
  writeFileSync(file, html);
  const opened = await open(browser, file);
  await opened.page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  pages.set(name, { ...opened, fixture, html });
}

/** Figures on the page, by section id. */
const figures = (p: Page): Promise<string[]> =>
  p.page.$$eval('section[data-figure]', (s) => s.map((e) => e.getAttribute('data-figure')!));
/** Marks in a named group (a view's `name` is its marks' class). */
const marks = (p: Page, selector: string): Promise<number> =>
  p.page.$$eval(selector, (groups) =>
    groups.reduce((n, g) => n + g.querySelectorAll(':scope > path, :scope > text').length, 0),
  );

describe.skipIf(skip)('the report in Chromium', () => {
  beforeAll(async () => {
    if (!hasChromium()) throw new Error(`no Chromium at ${CHROMIUM}: ${INSTALL}`);
    mkdirSync(SHOTS, { recursive: true });
    browser = await launch();
    const book = await runPlan(plan(bookBowl));
    await report('book-bowl', book);
    await report('bowl-grid', await runPlan(plan(bowlGrid), { curveEvery: 10 }));
    await report('rosenbrock-search', await runPlan(plan(rosenbrockSearch), { curveEvery: 10 }));
    await report('mnist-search', await runPlan(plan(mnistSearch), { curveEvery: 3, accuracy: true }));
    await report('mnist', await runPlan(plan(mnistB), { curveEvery: 5 }));
    // A sweep stopped after 3 of 4 runs, whose curves were kept for 2 of them.
    await report('book-bowl-partial', book, {
      records: book.records.slice(0, 3),
      curves: new Map([0, 2].map((id) => [id, book.curves.get(id)!])),
      complete: false,
    });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('loads every page with no console error and no request but file: and data:', () => {
    expect(pages.size).toBe(6);
    for (const [name, p] of pages) {
      expect(p.errors, name).toEqual([]);
      expect(p.requests.length, name).toBeGreaterThan(0);
      for (const url of p.requests) expect(url, name).toMatch(/^(file|data):/);
      expect(p.html, name).not.toMatch(/(src|href)="(https?:)?\/\//);
    }
  });

  it('draws the book’s bowl figure: four paths of 31 points from the start, over a contour, the optimum marked', async () => {
    const p = pages.get('book-bowl')!;
    expect(await figures(p)).toEqual(['leaderboard', 'trajectories', 'curves']);
    for (const opt of ['sgd', 'momentum', 'adagrad', 'adam']) {
      expect(await marks(p, `#trajectories g.steps_${opt}_marks`), opt).toBe(bookBowl.steps + 1);
      expect(await marks(p, `#trajectories g.path_${opt}_marks`), opt).toBe(1);
      expect(await marks(p, `#trajectories g.optimum_${opt}_marks`), opt).toBe(1);
      expect(await marks(p, `#trajectories g.contour_${opt}_marks`), opt).toBeGreaterThan(5);
    }
    // The paths start at (−7, 2): the first point of each drawn curve.
    for (const id of [0, 1, 2, 3]) expect([...p.fixture.curves.get(id)!.values.slice(1, 3)]).toEqual([-7, 2]);
    expect(await p.page.locator('#leaderboard tbody tr').count()).toBe(4);
    expect(await p.page.locator('.partial').count()).toBe(0);
    // The loss curves' legend names each optimizer's best configuration.
    expect(await p.page.locator('#curves .role-legend-label text').allTextContents()).toEqual([
      'SGD lr=0.95',
      'Momentum lr=0.1 α=0.9',
      'AdaGrad lr=1.5 ε=1e-7',
      'Adam lr=0.3 β₁=0.9 β₂=0.999 ε=1e-7',
    ]);
  });

  it('draws a heatmap per optimizer with one cell per lr × momentum pair, hatched where every run diverged', async () => {
    const p = pages.get('bowl-grid')!;
    expect(await figures(p)).toEqual([
      'leaderboard',
      'trajectories',
      'curves',
      'lr',
      'heatmap-momentum',
      'heatmap-nesterov',
    ]);
    for (const opt of ['momentum', 'nesterov']) {
      const cells = await marks(p, `#heatmap-${opt} g.cells_${opt}_marks`);
      const hatched = await marks(p, `#heatmap-${opt} g.hatched_${opt}_marks`);
      const off = await marks(p, `#heatmap-${opt} g.offscale_${opt}_marks`);
      expect(cells + hatched + off, opt).toBe(4 * 2);
      expect(hatched, opt).toBeGreaterThan(0);
      const fills = await p.page.$$eval(`#heatmap-${opt} g.hatched_${opt}_marks > path`, (e) =>
        e.map((x) => x.getAttribute('fill')),
      );
      expect(new Set(fills)).toEqual(new Set(['url(#hatch)']));
      expect(await p.page.locator(`#heatmap-${opt} pattern#hatch`).count()).toBe(1);
    }
    // Diverged configurations are crosses at the edge of the lr figure, not values.
    const diverged = p.fixture.records.filter((r) => r.status === 'diverged').length;
    expect(diverged).toBeGreaterThan(0);
    expect(await marks(p, '#lr g.lr_edge_marks')).toBeGreaterThan(0);
    // sgd and adam have no momentum axis, so no heatmap; the leaderboard has them all.
    expect(await p.page.locator('#leaderboard tbody tr').count()).toBe(4 + 8 + 8 + 4);
    // Two seeds: the loss figure draws a band and a mean line per optimizer.
    expect(await marks(p, '#curves g.band_marks')).toBe(4);
    expect(await marks(p, '#curves g.mean_marks')).toBe(4);
  });

  it('sorts the leaderboard by a clicked column', async () => {
    const p = pages.get('bowl-grid')!;
    const header = p.page.locator('#leaderboard th', { hasText: 'final_loss_mean' });
    await header.click();
    const values = await p.page.$$eval('#leaderboard tbody tr', (rows) =>
      rows.map((r) => r.querySelector('td')!.getAttribute('data-v')),
    );
    const ranks = values.filter((v) => v !== '').map(Number);
    expect(ranks.length).toBe(24);
    // Sorted by mean, ascending: ranks come out in order too (rank is by that mean).
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    await header.click();
    expect(await p.page.getAttribute('#leaderboard th:has-text("final_loss_mean")', 'aria-sort')).toBe('descending');
  });

  it('draws a random search: Best-1 … Best-N and the metric against each sampled axis', async () => {
    const p = pages.get('rosenbrock-search')!;
    expect(await figures(p)).toEqual(['leaderboard', 'trajectories', 'curves', 'best-n', 'sampled']);
    expect(await p.page.locator('#best-n g[class*="best_"][class*="_marks"]').count()).toBe(20);
    // One point per configuration: 12 trials of 3 optimizers, each on both axes where
    // it has them (momentum: only the momentum optimizer).
    const lr = (await marks(p, '#sampled g.sampled_lr_marks')) + (await marks(p, '#sampled g.sampled_edge_lr_marks'));
    const alpha =
      (await marks(p, '#sampled g.sampled_momentum_marks')) +
      (await marks(p, '#sampled g.sampled_edge_momentum_marks'));
    expect(lr).toBe(36);
    expect(alpha).toBe(12);
  });

  it('draws the book’s MNIST search: held-out accuracy solid, training dashed, per epoch', async () => {
    const p = pages.get('mnist-search')!;
    expect(await figures(p)).toEqual(['leaderboard', 'curves', 'smoothed', 'best-n', 'sampled']);
    for (let k = 1; k <= 20; k++) {
      const dashes = await p.page.$$eval(`#best-n g.best_${k}_marks > path`, (e) =>
        e.map((x) => x.getAttribute('stroke-dasharray') ?? 'solid'),
      );
      expect(dashes.sort(), `Best-${k}`).toEqual(['1,0', '4,3']);
    }
    expect(await p.page.locator('#best-n').textContent()).toContain(
      'val_acc solid, training accuracy dashed, per epoch',
    );
    // Titles rank by the held-out accuracy, best first.
    const titles = (await p.page.locator('#best-n .role-title text').allTextContents()).filter((t) =>
      t.startsWith('Best-'),
    );
    expect(titles.slice(0, 3)).toEqual(['Best-1', 'Best-2', 'Best-3']);
  });

  it('draws the book’s MNIST comparison: each optimizer’s smoothed training loss', async () => {
    const p = pages.get('mnist')!;
    expect(await figures(p)).toEqual(['leaderboard', 'curves', 'smoothed']);
    expect(await marks(p, '#smoothed g.smoothed_marks')).toBe(4);
    expect(await marks(p, '#smoothed g.markers_marks')).toBeGreaterThan(4 * 10);
    const legend = await p.page.locator('#smoothed').textContent();
    for (const name of ['SGD', 'Momentum', 'AdaGrad', 'Adam']) expect(legend).toContain(name);
  });

  it('says a partial sweep is partial, and which curves are missing', async () => {
    const p = pages.get('book-bowl-partial')!;
    expect(await p.page.locator('.partial').textContent()).toBe(
      'Partial sweep: 3 of 4 runs written; every figure shows those runs only.',
    );
    expect(await p.page.getAttribute('body', 'data-complete')).toBe('false');
    expect(await p.page.locator('#trajectories .missing').textContent()).toBe('Momentum: no curve recorded for run 1.');
    expect(await p.page.locator('#curves .missing').textContent()).toBe(
      'No curve recorded for the best configuration of Momentum.',
    );
    expect(await marks(p, '#trajectories g.steps_sgd_marks')).toBe(31);
    expect(await p.page.locator('#trajectories g.steps_adam_marks').count()).toBe(0);
    expect(await p.page.locator('#leaderboard tbody tr').count()).toBe(3);
  });
});
