/**
 * Issue 8, finding 6: errored runs. Under an address-space limit (`ulimit -v`, as on
 * shared clusters) runs must not fail for reserving memory they never use; a sweep
 * that finished with errored runs exits 3 and says how to run them again; and
 * `--resume --retry-errors` runs those again, each row replaced in place, run order
 * kept, every other row byte for byte as it was (curves too).
 *
 * Errors are injected by a copy of the built package whose worker entry fails every
 * batch holding one of the runs in SWEEP_TEST_FAILING_RUNS until the file named by
 * SWEEP_TEST_HEALED exists (a failing batch is re-run one run at a time: only those
 * runs end in error, "worker died: …").
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { copyPackage, oneLine, readManifest, run, scratch, stable } from './child.js';

/** The limit of the issue: 8 GB of address space, where V8's trap handler alone
 * wants 10 GiB for each WebAssembly memory. */
const LIMITED = 'ulimit -v 8000000';

const BOWL = {
  name: 'errored',
  problem: { name: 'anisotropic-bowl' },
  optimizers: ['sgd', 'momentum', 'adam'],
  lr: [0.01, 0.1],
  seeds: [0, 1, 2, 3],
  steps: 30,
};
const RUNS = 24;
/** Not the last run: the rows after the last one run again are copied when the rewrite ends. */
const FAILING = [3, 10, 11, 17];

const FAILING_WORKER = `
import { existsSync } from 'node:fs';
import runTask, { ping } from './real-sweep-worker.js';
const failing = (process.env.SWEEP_TEST_FAILING_RUNS ?? '').split(',').filter(Boolean).map(Number);
export default function failingTask(task) {
  const { first, count } = task.request;
  const healed = process.env.SWEEP_TEST_HEALED && existsSync(process.env.SWEEP_TEST_HEALED);
  if (!healed && failing.some((id) => id >= first && id < first + count)) throw new Error('injected failure');
  return runTask(task);
}
export { ping };
`;

const tmp = scratch('sweep-errored-', { bowl: BOWL });
const config = join(tmp, 'bowl.json');
const reference = join(tmp, 'reference.csv');
const referenceCurves = join(tmp, 'reference-curves.csv');
let faultyCli: string;

beforeAll(async () => {
  faultyCli = copyPackage(join(tmp, 'pkg'));
  const workers = join(tmp, 'pkg', 'dist', 'workers');
  renameSync(join(workers, 'sweep-worker.js'), join(workers, 'real-sweep-worker.js'));
  writeFileSync(join(workers, 'sweep-worker.js'), FAILING_WORKER);
  const r = await run([config, '--out', reference, '--curves', referenceCurves, '--curve-every', '5']);
  expect(r.code, r.stderr).toBe(0);
});

const statuses = (csv: string): string[] =>
  (parse(readFileSync(csv, 'utf8'), { columns: true }) as { status: string }[]).map((r) => r.status);

describe(`under an address-space limit (${LIMITED})`, () => {
  it.each([
    ['configs/grid.json', 'the bowl grid', 32, []],
    ['configs/grid.json', 'the bowl grid, in child processes', 32, ['--executor', 'child']],
  ])('%s (%s): no run in error, exit 0', async (cfg, _what, runs, extra) => {
    const out = join(tmp, `limited-${extra.length}.csv`);
    const r = await run([cfg, '--out', out, ...extra], { limits: LIMITED });
    expect(r.code, r.stderr).toBe(0);
    expect(statuses(out)).toHaveLength(runs as number);
    expect(statuses(out)).not.toContain('error');
  });

  it('an MNIST net (its arena sized by the problem, its data shared): ok', async () => {
    const mnist = join(tmp, 'mnist.json');
    writeFileSync(
      mnist,
      JSON.stringify({
        name: 'limited-mnist',
        problem: { name: 'mnist-mlp', hidden: [100, 50], batch_size: 32, train_samples: 1000 },
        optimizers: ['sgd', 'adam'],
        steps: 20,
      }),
    );
    const out = join(tmp, 'limited-mnist.csv');
    const r = await run([mnist, '--out', out], { limits: LIMITED });
    expect(r.code, r.stderr).toBe(0);
    expect(statuses(out)).toEqual(['ok', 'ok']);
  });
});

describe('a sweep that finished with errored runs', () => {
  const env = (healed: string) => ({
    ...process.env,
    SWEEP_TEST_FAILING_RUNS: FAILING.join(','),
    SWEEP_TEST_HEALED: healed,
  });

  it('exits 3, saying how many and how to run them again; --resume --retry-errors then replaces them in place', async () => {
    const out = join(tmp, 'failed.csv');
    const curves = join(tmp, 'failed-curves.csv');
    const healed = join(tmp, 'healed');
    const first = await run([config, '--out', out, '--curves', curves, '--curve-every', '5'], {
      cli: faultyCli,
      env: env(healed),
    });
    expect(first.code, first.stderr).toBe(3);
    expect(first.stderr).toContain(`${FAILING.length} of ${RUNS} runs ended in error`);
    expect(first.stderr).toContain(`--out ${out} --resume --retry-errors --curves ${curves} --curve-every 5`);
    expect(first.stderr).not.toMatch(/^\s+at /m);
    expect(
      statuses(out)
        .map((s, id) => (s === 'error' ? id : -1))
        .filter((id) => id >= 0),
    ).toEqual(FAILING);
    expect(readManifest(out).complete).toBe(true);

    // Without --retry-errors the errored rows stay: a complete sweep, nothing to do.
    const plain = await run([config, '--out', out, '--resume', '--curves', curves], {
      cli: faultyCli,
      env: env(healed),
    });
    expect(plain.code).toBe(3);
    expect(plain.stdout).toContain(`${RUNS} of ${RUNS} runs already done`);

    const before = readFileSync(out, 'utf8').split('\n');
    writeFileSync(healed, '');
    const again = await run([config, '--out', out, '--resume', '--retry-errors', '--curves', curves], {
      cli: faultyCli,
      env: env(healed),
    });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`${FAILING.length} of them ended in error, and run again`);
    const after = readFileSync(out, 'utf8').split('\n');
    expect(after).toHaveLength(before.length);
    // Every row not run again is byte for byte as it was; the rest are the reference's.
    for (const [i, line] of after.entries())
      if (!FAILING.includes(i - 1)) expect(line, `line ${i + 1}`).toBe(before[i]);
    expect(stable(after.join('\n'))).toEqual(stable(readFileSync(reference, 'utf8')));
    expect(readFileSync(curves, 'utf8')).toBe(readFileSync(referenceCurves, 'utf8'));
    expect(readManifest(out)).toMatchObject({ complete: true, durable: { bytes: readFileSync(out).length } });
    expect(existsSync(`${out}.retry`)).toBe(false);

    const nothing = await run([config, '--out', out, '--resume', '--retry-errors', '--curves', curves]);
    expect(nothing.code).toBe(0);
    expect(nothing.stdout).toContain('no run ended in error; nothing to retry');

    // Cut short between the manifest and the rename: the old CSV in place, the rewrite
    // beside it, the manifest vouching for the rewrite. Resume puts the rewrite in place.
    const cut = join(tmp, 'cut.csv');
    writeFileSync(cut, before.join('\n'));
    writeFileSync(`${cut}.retry`, after.join('\n'));
    writeFileSync(`${cut}.sweep.json`, readFileSync(`${out}.sweep.json`));
    const recovered = await run([config, '--out', cut, '--resume', '--curves', curves]);
    expect(recovered.code, recovered.stderr).toBe(0);
    expect(readFileSync(cut, 'utf8')).toBe(after.join('\n'));
    expect(existsSync(`${cut}.retry`)).toBe(false);
  });

  it('--retry-errors without --resume is refused', async () => {
    const r = await run([config, '--out', join(tmp, 'x.csv'), '--retry-errors']);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toContain('--retry-errors needs --resume');
  });
});
