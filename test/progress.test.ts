/**
 * The progress line: the rate, the time left, the best run so far and the runs in
 * progress; on a terminal redrawn in place, elsewhere (a log, CI) a plain line every
 * --progress-every seconds.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { Tally, duration, progressLine } from '../src/report.js';
import { ResultsBuilder } from '../src/results.js';
import { CLI, QUADRATIC_54 } from './child.js';
import { execute } from './helpers.js';

describe('progressLine', () => {
  it('gives the runs done, the rate, the time left at that rate, the best so far and two live runs', () => {
    const line = progressLine({
      done: 250,
      total: 1000,
      seconds: 10,
      live: [
        { runId: 251, step: 40, loss: 0.5 },
        { runId: 252, step: 7, loss: 2 },
        { runId: 253, step: 1, loss: 3 },
      ],
      best: { column: 'test_acc', value: 0.93125, optimizer: 'adam', runId: 17 },
    });
    expect(line).toBe(
      '250/1000 runs (25.0%) 25/s ETA 30s · best test_acc 0.931250 (adam, run 17) · run 251 step 40 loss 0.500000 | run 252 step 7 loss 2.00000',
    );
  });

  it('says no time left before a run is done or a second has passed, nor once all are done', () => {
    expect(progressLine({ done: 0, total: 10, seconds: 5, live: [] })).toBe('0/10 runs (0.0%) 0.0/s');
    expect(progressLine({ done: 3, total: 10, seconds: 0.5, live: [] })).not.toMatch(/ETA/);
    expect(progressLine({ done: 10, total: 10, seconds: 4, live: [] })).toBe('10/10 runs (100.0%) 2.5/s');
    expect(progressLine({ done: 1, total: 10, seconds: 2, live: [], workers: 3 })).toBe(
      '1/10 runs (10.0%) 0.50/s ETA 18s 3 workers',
    );
  });

  it.each([
    [0, '0s'],
    [59.4, '59s'],
    [60, '1m00s'],
    [185, '3m05s'],
    [3599, '59m59s'],
    [3600, '1h00m'],
    [7620, '2h07m'],
  ])('duration(%d) is %s', (seconds, text) => expect(duration(seconds)).toBe(text));
});

describe('Tally.best', () => {
  const plan = parseConfig(
    JSON.stringify({
      name: 'progress-best',
      problem: { name: 'anisotropic-bowl' },
      optimizers: ['sgd', 'adam'],
      lr: [0.1, 0.2],
      steps: 3,
    }),
    'progress-best.json',
  );
  /** A batch of runs [first, first + losses.length) that ended ok with these losses. */
  const batch = (first: number, losses: number[]) => {
    const b = new ResultsBuilder(first, losses.length, 3, 0);
    for (const loss of losses) b.addOutcome('ok', loss, loss, -1, 1, [0, 0, 0]);
    return b.build();
  };

  it('is the lowest final_loss over every optimizer, undefined before any ok run', () => {
    const tally = new Tally(plan);
    expect(tally.best()).toBeUndefined();
    tally.accept(batch(0, [5, 4]));
    expect(tally.best()).toEqual({ column: 'final_loss', value: 4, optimizer: 'sgd', runId: 1 });
    tally.accept(batch(2, [6, 0.5]));
    expect(tally.best()).toEqual({ column: 'final_loss', value: 0.5, optimizer: 'adam', runId: 3 });
  });
});

describe('off a terminal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sweep-progress-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'slow.json');
  writeFileSync(config, JSON.stringify({ ...QUADRATIC_54, name: 'progress-slow', steps: 600 }));

  it('prints a plain line every --progress-every seconds to standard error, none with --no-progress', async () => {
    const out = join(dir, 'slow.csv');
    const r = await execute(process.execPath, [CLI, config, '--out', out, '--no-report', '--progress-every', '0.2']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('sweep: '));
    expect(lines.length, r.stderr).toBeGreaterThan(1);
    for (const line of lines) {
      expect(line).toMatch(/^sweep: \d+\/54 runs \(\d+\.\d%\) [\d.]+\/s/);
      expect(line.includes('\r') || line.includes('\u001b')).toBe(false);
    }
    expect(
      lines.some((l) => / ETA \d/.test(l) && / · best final_loss /.test(l)),
      lines.join('\n'),
    ).toBe(true);
    const quiet = await execute(process.execPath, [
      CLI,
      config,
      '--out',
      out,
      '--force',
      '--no-report',
      '--no-progress',
    ]);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).not.toMatch(/^sweep: \d+\//m);
  });

  it('refuses a --progress-every that is not a positive number of seconds, in one line', async () => {
    for (const value of ['0', '-1', 'soon']) {
      const r = await execute(process.execPath, [CLI, config, '--progress-every', value]);
      expect(r.code, value).toBe(2);
      expect(r.stderr, value).toMatch(/^sweep: --progress-every must be a number of seconds > 0, got \S+\n$/);
    }
  });
});
