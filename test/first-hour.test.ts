/**
 * The first hour at the command line (issue 9), one trap per block: a loss that
 * explodes but stays finite, the summary's settings, seeds that change nothing, and
 * options that npm takes for itself.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig, planConfig } from '../src/config/load.js';
import { DEFAULT_DIVERGENCE_FACTOR } from '../src/config/schema.js';
import { specAt } from '../src/grid.js';
import { CLI_OPTIONS, eatenByNpm } from '../src/npm-args.js';
import { settingsText } from '../src/report.js';
import { divergenceLimit } from '../src/run.js';
import { execute, makeProblem, npm, runHere, spec } from './helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const TMP = mkdtempSync(join(tmpdir(), 'sweep-first-hour-'));

afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const cli = (...args: string[]) => execute(process.execPath, [CLI, ...args], { cwd: ROOT });

let fresh = 0;
function configFile(config: object): string {
  const file = join(TMP, `config-${fresh++}.json`);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

describe('a loss that explodes but stays finite is diverged', () => {
  // sgd at lr 5 on the bowl: y is multiplied by 1 − 10 = −9 each step.
  const sgd5 = spec('sgd', 30, { lr: 5 });

  it('sgd at lr 5 on the bowl: diverged where the loss passes the limit, not ok at 7e57', async () => {
    const { result } = runHere(sgd5, await makeProblem('anisotropic-bowl'));
    expect(result.status).toBe('diverged');
    // Starting loss 49/20 + 4 = 6.45, so the limit is 6.45e6; after k steps
    // y = 2·(−9)^k, which crosses it at k = 4 (y² ≈ 1.7e8). Replayed here:
    const limit = divergenceLimit(49 / 20 + 4, DEFAULT_DIVERGENCE_FACTOR);
    let k = 0;
    for (let y = 2, x = -7; (x * x) / 20 + y * y <= limit; k++) {
      x -= 5 * (x / 10);
      y -= 5 * 2 * y;
    }
    expect(result.divergedAt).toBe(k);
    expect(result.finalLoss).toBeNaN();
    expect(result.metrics).toEqual([]);
    // The best loss seen is still there.
    expect(result.bestLoss).toBeLessThanOrEqual(49 / 20 + 4);
  });

  it('with a divergence_factor beyond reach the same run is ok, its loss finite and enormous', async () => {
    const { result } = runHere({ ...sgd5, divergenceFactor: 1e300 }, await makeProblem('anisotropic-bowl'));
    expect(result.status).toBe('ok');
    expect(result.finalLoss).toBeGreaterThan(1e57);
    expect(Number.isFinite(result.finalLoss)).toBe(true);
  });

  it('the limit is a multiple of the starting loss, and of 1 when that is smaller', () => {
    expect(divergenceLimit(6.45, 1e6)).toBe(6.45e6);
    expect(divergenceLimit(-20, 1e6)).toBe(2e7);
    expect(divergenceLimit(1e-9, 1e6)).toBe(1e6);
  });

  it('divergence_factor is a config field, kept by the plan and its manifest config', () => {
    const base = { name: 'd', problem: { name: 'anisotropic-bowl' }, optimizers: ['sgd'], steps: 30 };
    expect(parseConfig(JSON.stringify(base), 'd.json').divergenceFactor).toBe(DEFAULT_DIVERGENCE_FACTOR);
    const plan = parseConfig(JSON.stringify({ ...base, divergence_factor: 100 }), 'd.json');
    expect(plan.divergenceFactor).toBe(100);
    expect(specAt(plan, 0).divergenceFactor).toBe(100);
    expect(parseConfig(JSON.stringify(planConfig(plan)), 'm.json')).toEqual(plan);
    expect(() => parseConfig(JSON.stringify({ ...base, divergence_factor: 0.5 }), 'd.json')).toThrow(
      /^d\.json: divergence_factor must be >= 1, got 0\.5$/,
    );
  });

  it('from the command line: the row says diverged, and the summary ranks only ok runs', async () => {
    const file = configFile({
      name: 'explode',
      problem: { name: 'anisotropic-bowl' },
      optimizers: ['sgd'],
      lr: [0.1, 5],
      steps: 30,
    });
    const r = await cli(file, '--out', '-', '--workers', '1');
    expect(r.code, r.stderr).toBe(0);
    const rows = parse(r.stdout, { columns: true }) as Record<string, string>[];
    expect(rows.map((x) => x.status)).toEqual(['ok', 'diverged']);
    expect(rows[1].final_loss).toBe('');
    expect(Number(rows[1].diverged_at)).toBeGreaterThan(0);
    // The printed best is the lr 0.1 run, not a loss of 1e29 or more.
    expect(r.stderr).toMatch(/^sgd\s+2\s+1\s+1\s+0\s+\S+\s+0\s+lr=0\.1$/m);
  });
});

describe('the summary rounds settings for reading, in the axes order', () => {
  const search = {
    name: 's',
    problem: { name: 'anisotropic-bowl' },
    optimizers: ['sgd'],
    weight_decay: { distribution: 'log-uniform', min: 1e-8, max: 1e-4 },
    lr: { distribution: 'log-uniform', min: 1e-6, max: 1e-2 },
    trials: 5,
    steps: 10,
  };

  it('lr before weight_decay, four significant digits, whatever the config order', () => {
    const plan = parseConfig(JSON.stringify(search), 's.json');
    for (let id = 0; id < plan.total; id++) {
      const s = specAt(plan, id);
      const text = settingsText(plan, s);
      const m = /^lr=(\S+) weight_decay=(\S+)$/.exec(text);
      expect(m, text).not.toBeNull();
      expect(Number(m![1])).toBe(Number(s.axes.lr!.toPrecision(4)));
      expect(Number(m![2])).toBe(Number(s.axes.weight_decay!.toPrecision(4)));
      expect(m![1].replace(/^0\.0*|e.*$|\./g, '').length).toBeLessThanOrEqual(4);
    }
  });

  it('seeds are named when they vary', () => {
    const plan = parseConfig(
      JSON.stringify({ ...search, problem: { name: 'quadratic', dim: 3 }, seeds: [0, 1] }),
      's.json',
    );
    expect(settingsText(plan, specAt(plan, 1))).toMatch(/^lr=\S+ weight_decay=\S+ seed=1$/);
  });

  it("the problem's swept options follow the axes, as their columns do", () => {
    const plan = parseConfig(
      JSON.stringify({ ...search, problem: { name: 'quadratic', dim: 3, condition: [10, 123.456789] } }),
      's.json',
    );
    const texts = Array.from({ length: plan.total }, (_, id) => settingsText(plan, specAt(plan, id)));
    for (const t of texts) expect(t).toMatch(/^lr=\S+ weight_decay=\S+ condition=(10|123\.5)$/);
    expect(new Set(texts.map((t) => t.split('condition=')[1]))).toEqual(new Set(['10', '123.5']));
  });

  it('the CSV keeps full precision while the summary is rounded', async () => {
    const r = await cli(configFile(search), '--out', '-', '--workers', '1');
    expect(r.code, r.stderr).toBe(0);
    const rows = parse(r.stdout, { columns: true }) as Record<string, string>[];
    const line = r.stderr.split('\n').find((l) => l.startsWith('sgd '))!;
    const id = Number(line.trim().split(/\s+/)[6]);
    const row = rows[id];
    expect(row.lr.replace(/^0\.0*|e.*$|\./g, '').length).toBeGreaterThan(4);
    expect(line).toContain(`lr=${Number(Number(row.lr).toPrecision(4))} weight_decay=`);
  });
});

describe('seeds that change nothing are said to, on standard error', () => {
  const bowl = {
    name: 'seeds',
    problem: { name: 'anisotropic-bowl' },
    optimizers: ['sgd'],
    steps: 10,
    seeds: [0, 1, 2],
  };

  it('the bowl with three seeds: one line on stderr, and the sweep runs as before', async () => {
    const file = configFile(bowl);
    const r = await cli(file, '--out', '-', '--workers', '1');
    expect(r.code).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('sweep: '));
    expect(lines).toEqual([
      `sweep: ${file}: seeds [0,1,2]: anisotropic-bowl starts every run from the same point and draws nothing from the seed, so each setting runs 3 identical times`,
    ]);
    const rows = parse(r.stdout, { columns: true }) as Record<string, string>[];
    expect(new Set(rows.map((x) => x.final_loss)).size).toBe(1);
  });

  it('--dry-run says it too', async () => {
    const r = await cli(configFile({ ...bowl, problem: { name: 'rosenbrock' } }), '--dry-run');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^sweep: .*: seeds \[0,1,2\]: rosenbrock starts every run from the same point/);
  });

  it('nothing is said for one seed, or for a problem whose start comes from the seed', async () => {
    const one = await cli(configFile({ ...bowl, seeds: [0] }), '--dry-run');
    const quadratic = await cli(configFile({ ...bowl, problem: { name: 'quadratic', dim: 4 } }), '--dry-run');
    expect([one.stderr, quadratic.stderr]).toEqual(['', '']);
  });
});

describe('options npm takes for itself are refused, with the command as it should be', () => {
  const npmRun = { npm_command: 'run', npm_lifecycle_event: 'sweep' };

  it('--dry-run without --: one line showing the command with --', () => {
    expect(eatenByNpm(['configs/book-bowl.json'], { ...npmRun, npm_config_dry_run: 'true' })).toBe(
      "npm took --dry-run for itself, so sweep never saw it; put sweep's options after --: npm run sweep -- configs/book-bowl.json --dry-run",
    );
  });

  it('--out f.csv and -w 1: the values npm left as arguments go back to their options', () => {
    const m = eatenByNpm(['configs/grid.json', 'f.csv'], {
      ...npmRun,
      npm_config_out: 'true',
      npm_config_workers: '2',
    });
    expect(m).toMatch(/^npm took --workers, --out for itself, so sweep never saw them; /);
    expect(m).toMatch(/: npm run sweep -- configs\/grid\.json --workers 2 --out f\.csv$/);
    // Two options without their values: which argument was whose is unknown.
    const two = eatenByNpm(['a.json', '3', 'f.csv'], { ...npmRun, npm_config_out: 'true', npm_config_retries: 'true' });
    expect(two).toMatch(/npm run sweep -- a\.json --out 3 --retries f\.csv$/);
    const unsure = eatenByNpm(['a.json', 'f.csv'], { ...npmRun, npm_config_out: 'true', npm_config_retries: 'true' });
    expect(unsure).toMatch(/npm run sweep -- a\.json f\.csv --out <value> --retries <value>$/);
  });

  it('nothing is said outside npm run, or when npm took nothing of ours', () => {
    expect(eatenByNpm(['c.json'], { npm_config_dry_run: 'true' })).toBeUndefined();
    expect(eatenByNpm(['c.json'], { ...npmRun, npm_command: 'exec', npm_config_dry_run: 'true' })).toBeUndefined();
    expect(eatenByNpm(['c.json'], { ...npmRun, npm_config_audit: '', npm_config_fund: '' })).toBeUndefined();
  });

  it('every option of --help is one npm could take', async () => {
    const r = await cli('--help');
    const names = [...r.stdout.matchAll(/^\s+(?:-(\w), )?--([\w-]+)/gm)].flatMap((m) => [m[1], m[2]]).filter(Boolean);
    const known = new Set(CLI_OPTIONS.map((o) => o.name));
    for (const name of names) if (!['help', 'h', 'progress'].includes(name)) expect(known, name).toContain(name);
  });

  it('`npm run sweep configs/book-bowl.json --dry-run` itself: exit 2, the line, nothing run or written', async () => {
    const before = readdirSync(join(ROOT, 'results'));
    const r = await npm(['run', 'sweep', 'configs/book-bowl.json', '--dry-run'], ROOT);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "sweep: npm took --dry-run for itself, so sweep never saw it; put sweep's options after --: npm run sweep -- configs/book-bowl.json --dry-run\n",
    );
    expect(r.stdout).not.toMatch(/runs in|optimizer\s+runs/);
    expect(readdirSync(join(ROOT, 'results'))).toEqual(before);
  });

  it('`npm run sweep -- configs/book-bowl.json --dry-run`, as the line says: counts the runs', async () => {
    const r = await npm(['run', 'sweep', '--', 'configs/book-bowl.json', '--dry-run'], ROOT);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^total\s+4$/m);
  });
});
