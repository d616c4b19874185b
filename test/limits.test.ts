/**
 * Issue 8, finding 10: local workers are bounded (a small multiple of the cores:
 * `--workers 1e300` once spawned threads until killed), and a sweep whose runs do
 * not fit in the memory this process may use is refused before any thread starts,
 * saying how many workers would fit. The memory limit is made real with `ulimit -v`.
 */
import { readdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oneLine, run, scratch } from './child.js';

/** A quadratic of 10⁸ parameters: 3.0 GiB a run (W, g and Adam's m and v). */
const HUGE = { name: 'huge', problem: { name: 'quadratic', dim: 100_000_000 }, optimizers: ['adam'], steps: 1 };
/** 3.8 GiB of address space. */
const LIMITED = 'ulimit -v 4000000';

const tmp = scratch('sweep-limits-', {
  huge: HUGE,
  larger: { ...HUGE, problem: { name: 'quadratic', dim: 130_000_000 } },
});
const huge = join(tmp, 'huge.json');
const larger = join(tmp, 'larger.json');

async function refused(args: string[], says: string[], limits?: string): Promise<void> {
  const out = join(tmp, 'out.csv');
  const r = await run([...args, '--out', out], { limits });
  expect(r.code, r.stderr).toBe(2);
  const line = oneLine(r.stderr);
  for (const s of says) expect(line).toContain(s);
  expect(readdirSync(tmp).sort()).toEqual(['huge.json', 'larger.json']);
}

describe('--workers', () => {
  const most = 4 * availableParallelism();

  it.each(['1e300', String(most + 1), '100000'])('%s is refused at once, with the bound', async (n) => {
    const started = Date.now();
    await refused(['configs/grid.json', '--workers', n], [`--workers must be at most ${most}`, 'cores']);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it(`${most} (the bound) runs`, async () => {
    const r = await run([
      'configs/grid.json',
      '--workers',
      String(most),
      '--out',
      join(tmp, 'most.csv'),
      '--no-report',
    ]);
    expect(r.code, r.stderr).toBe(0);
    rmSync(join(tmp, 'most.csv'));
    rmSync(join(tmp, 'most.csv.sweep.json'));
  });
});

describe(`a run's memory against what this process may use (${LIMITED})`, () => {
  it('two workers of 3.0 GiB each: refused, naming the limit and the workers that fit', async () => {
    await refused([huge, '--workers', '2'], ['3.0 GiB', '6.0 GiB in all', 'ulimit -v', 'pass --workers 1'], LIMITED);
  });

  it('one run larger than the limit: refused', async () => {
    await refused([larger, '--workers', '1'], ['a run needs 3.9 GiB', 'ulimit -v'], LIMITED);
  });
});
