/**
 * Issue 8, finding 7: a curve at every step of a long run. Its points are held in
 * typed arrays, outside the worker's JavaScript heap (as arrays of numbers they ran a
 * worker out of heap: a run of a million steps under --worker-memory 32 was recorded
 * `error … JS heap out of memory`), and written as text a bounded chunk at a time
 * (ten million points as one string are more than a string can hold).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curveText } from '../src/csv.js';
import { ResultsBuilder } from '../src/results.js';
import { readManifest, run } from './child.js';

const STEPS = 1_000_000;

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sweep-curves-memory-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('a curve point at every step of a million-step run', () => {
  it('under --worker-memory 32: ok, every point written', async () => {
    const config = join(tmp, 'long.json');
    writeFileSync(
      config,
      JSON.stringify({ name: 'long', problem: { name: 'anisotropic-bowl' }, optimizers: ['adam'], steps: STEPS }),
    );
    const out = join(tmp, 'long.csv');
    const curves = join(tmp, 'long-curves.csv');
    const r = await run([
      config,
      '--out',
      out,
      '--curves',
      curves,
      '--curve-every',
      '1',
      '--worker-memory',
      '32',
      '--no-report',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/\n0,adam,.*,ok,/);
    const text = readFileSync(curves, 'utf8');
    const lines = text.split('\n');
    expect(lines[0]).toBe('run_id,step,loss,x,y');
    expect(lines).toHaveLength(STEPS + 3); // the header, steps 0 … STEPS, a final line end
    expect(lines[STEPS + 1]).toMatch(new RegExp(`^0,${STEPS},`));
    expect(readManifest(out).complete).toBe(true);
  });
});

describe('curve text', () => {
  it('comes in chunks of whole lines of about a MiB, the same text as the points', () => {
    const points = 200_000;
    const b = new ResultsBuilder(7, 1, 0, 3);
    for (let p = 0; p < points; p++) b.point(p, [p / 3, -p, p * 1e-9]);
    b.addOutcome('ok', 1, 1, -1, 1, []);
    const chunks = [...curveText(b.build())];
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) {
      expect(c.length).toBeLessThan((1 << 20) + 100);
      expect(c.endsWith('\n')).toBe(true);
    }
    const lines = chunks.join('').split('\n').slice(0, -1);
    expect(lines).toHaveLength(points);
    expect(lines[123_456]).toBe(`7,123456,${123_456 / 3},-123456,${123_456 * 1e-9}`);
  });
});
