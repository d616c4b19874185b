/**
 * Results as data: the record stream, the boundary any executor can carry, and a CSV
 * readable on its own. The codec keeps every value a record holds through JSON; the
 * child-process executor (every message JSON text) gives the thread pool's CSV; every
 * shipped config's CSV reads back (`readSweep`) into the records the sweep passed on,
 * and its curves file into their curves; the manifest's config is the plan.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { decode, encode } from '../src/codec.js';
import { configPlan, parseConfig, planConfig } from '../src/config/load.js';
import { createExecutor } from '../src/executors/index.js';
import { MANIFEST_FORMAT, manifestPlan } from '../src/manifest.js';
import { CsvFile, CurvesFile } from '../src/output.js';
import { readCurves, readSweep } from '../src/read.js';
import { records, sliceBatch, batchOf, joinBatches, type ResultBatch, type RunRecord } from '../src/results.js';
import { runSweep } from '../src/sweep.js';
import { runEarlyStopping } from '../src/early.js';
import { collect } from './helpers.js';

const CONFIGS = fileURLToPath(new URL('../configs/', import.meta.url));
const SHIPPED = readdirSync(CONFIGS).filter((f) => f.endsWith('.json') && f !== 'sweep.schema.json');
const dir = mkdtempSync(join(tmpdir(), 'sweep-records-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A shipped config, cut to a few updates a run (its columns and expansion as shipped;
 * early stopping with one rung, at 1; a problem module it names, imported from beside
 * it). */
function shipped(file: string, steps = 2) {
  const config = JSON.parse(readFileSync(join(CONFIGS, file), 'utf8')) as Record<string, unknown>;
  const es = config.early_stopping as Record<string, unknown> | undefined;
  const cut = es
    ? { steps: 3, early_stopping: { ...es, min_steps: 1 } }
    : { steps: Math.min(steps, config.steps as number) };
  return configPlan({ ...config, ...cut }, join(CONFIGS, file));
}

describe('the codec', () => {
  it('keeps NaN, ±Infinity, −0 and every typed array through JSON text', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double()),
        fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
        fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, -0)),
        (doubles, ints, scalar) => {
          const message = {
            f64: Float64Array.from(doubles),
            f32: Float32Array.from(doubles),
            i32: Int32Array.from(ints),
            u8: Uint8Array.from(ints.map((i) => i & 255)),
            scalar,
            list: [scalar, { nested: scalar }],
          };
          const back = decode<typeof message>(encode(message));
          // Object.is tells NaN from NaN-less and −0 from 0; byte equality every bit pattern.
          expect(Object.is(back.scalar, scalar)).toBe(true);
          expect(
            Object.is(back.list[0], scalar) && Object.is((back.list[1] as { nested: number }).nested, scalar),
          ).toBe(true);
          for (const key of ['f64', 'f32', 'i32', 'u8'] as const) {
            expect(back[key].constructor).toBe(message[key].constructor);
            expect(Buffer.from(back[key].buffer).equals(Buffer.from(message[key].buffer))).toBe(true);
          }
        },
      ),
    );
  });

  it('refuses what it does not know rather than guessing', () => {
    expect(() => decode('{"$num":"1e999x"}')).toThrow(/bad number/);
    expect(() => decode('{"$typed":"BigInt64Array","base64":""}')).toThrow(/unknown typed array/);
  });
});

describe('results: one module builds and slices them', () => {
  const metrics = (...v: number[]) => Float64Array.from(v);
  const list: RunRecord[] = [
    { runId: 5, status: 'ok', finalLoss: 0.5, bestLoss: 0.25, durationMs: 1, metrics: metrics(1, 2) },
    { runId: 6, status: 'diverged', divergedAt: 7, bestLoss: 3, durationMs: 2, metrics: metrics(NaN, NaN) },
    { runId: 7, status: 'error', error: 'RangeError: x', bestLoss: NaN, durationMs: NaN, metrics: metrics(NaN, NaN) },
  ];
  const withCurves = list.map((r, k) => ({
    ...r,
    curve: { step: Int32Array.of(0, 1 + k), values: Float64Array.of(9, k, 8, -k) },
  }));

  it('a batch of records reads back as the same records, whole and sliced', () => {
    const batch = batchOf(withCurves, 2, 2);
    expect([...records(batch)]).toEqual(withCurves);
    expect([...records(sliceBatch(batch, 1, 3))]).toEqual(withCurves.slice(1));
    expect([...records(sliceBatch(batch, 0, 1))]).toEqual(withCurves.slice(0, 1));
  });

  it('a batch survives the codec whole', () => {
    const batch = batchOf(withCurves, 2, 2);
    expect([...records(decode<ResultBatch>(encode(batch)))]).toEqual(withCurves);
  });
  it('a batch cut anywhere into slices joins back into the same batch, rows and curves included', async () => {
    // A real batch, as a worker makes it: rows encoded, curves recorded.
    const plan = await shipped('grid.json', 12);
    const pool = createExecutor('piscina', { workers: 1 });
    const got: ResultBatch[] = [];
    try {
      await collect(plan, pool, { batchSize: plan.total, curveEvery: 3 }, [{ accept: (b) => void got.push(b) }]);
    } finally {
      await pool.close();
    }
    const [batch] = got;
    expect(batch.count).toBe(plan.total);
    expect(batch.rows && batch.curves).toBeTruthy();
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: batch.count - 1 }), { maxLength: 6 }), (cuts) => {
        const at = [0, ...cuts.sort((a, b) => a - b), batch.count];
        const parts = at.slice(1).map((to, i) => sliceBatch(batch, at[i], to));
        expect(joinBatches(parts)).toEqual(batch);
        if (parts.length > 1) expect(joinBatches(parts.slice(1))).toEqual(sliceBatch(batch, at[1], batch.count));
      }),
    );
    expect(() => joinBatches([sliceBatch(batch, 0, 2), sliceBatch(batch, 3, 5)])).toThrow(RangeError);
  });
});

describe('the child-process executor (every message JSON text) gives the thread pool’s CSV', () => {
  it.each([
    ['grid.json', 30],
    ['random-search.json', 200],
  ])('%s', async (file, steps) => {
    const plan = await shipped(file, steps);
    const pool = createExecutor('piscina', { workers: 2 });
    const child = createExecutor('child', { workers: 2 });
    try {
      const [a, b] = await Promise.all([collect(plan, pool, { batchSize: 3 }), collect(plan, child, { batchSize: 5 })]);
      const stable = (csv: string) => csv.replace(/,[\d.]*,([^,\n]*)\n/g, ',,$1\n'); // duration_ms blanked
      expect(stable(b.csv)).toBe(stable(a.csv));
      expect(b.summary).toEqual(a.summary);
    } finally {
      await Promise.all([pool.close(), child.close()]);
    }
  });
});

describe('readSweep: every shipped config’s CSV reads back into the records the sweep gave', () => {
  const executor = createExecutor('piscina', { workers: 2 });
  afterAll(() => executor.close());

  it.each(SHIPPED)('%s', async (file) => {
    const plan = await shipped(file);
    const csv = join(dir, `${file}.csv`);
    const curvesPath = join(dir, `${file}.curves.csv`);
    const out = await CsvFile.create(csv, plan, false, { file: curvesPath, every: 1 });
    const curves = await CurvesFile.create(curvesPath, plan, false);
    const given: RunRecord[] = [];
    const options = {
      executor,
      curveEvery: 1,
      consumers: [curves, out, { accept: (b: ResultBatch) => void given.push(...records(b)) }],
    };
    const outcome = plan.earlyStopping
      ? await runEarlyStopping(plan, { ...options, journal: { accept: () => undefined } })
      : await runSweep(plan, options);
    if (plan.earlyStopping) expect(given.some((r) => r.status === 'pruned')).toBe(true);
    await curves.close();
    await out.close(!outcome.interrupted);

    const back = await readSweep(csv);
    expect(back.complete).toBe(true);
    expect(back.plan).toEqual(plan);
    // The CSV rounds durations to the microsecond; everything else is exact.
    const asWritten = given.map(({ curve: _, ...r }) => ({ ...r, durationMs: Number(r.durationMs.toFixed(3)) }));
    expect(back.records).toEqual(asWritten);
    const readBack = await readCurves(curvesPath, plan);
    expect(readBack.size).toBe(plan.total);
    for (const r of given) expect(readBack.get(r.runId), `run ${r.runId}`).toEqual(r.curve);
  });
});

describe('the manifest records the plan as a config', () => {
  it.each(SHIPPED)('%s: planConfig reads back as the very plan', async (file) => {
    const plan = await shipped(file, 1000);
    expect(parseConfig(JSON.stringify(planConfig(plan)), file)).toEqual(plan);
  });

  it('an optimizer’s own distribution, a shared one and a grid override all survive', () => {
    const plan = parseConfig(
      JSON.stringify({
        name: 'mixed',
        problem: { name: 'rosenbrock' },
        optimizers: [
          'sgd',
          { name: 'momentum', lr: [0.1, 0.2] },
          { name: 'adam', lr: { distribution: 'uniform', min: 0.001, max: 0.1 } },
        ],
        lr: { distribution: 'log-uniform', min: 1e-4, max: 1 },
        momentum: { distribution: 'uniform', min: 0.5, max: 0.99 },
        weight_decay: [0, 0.01],
        trials: 3,
        search_seed: 7,
        steps: 5,
      }),
      'mixed.json',
    );
    expect(parseConfig(JSON.stringify(planConfig(plan)), 'again.json')).toEqual(plan);
  });

  it('a manifest of a newer format is refused with the reason, an older one without a config too', async () => {
    const plan = await shipped('grid.json');
    const m = { format: MANIFEST_FORMAT + 1, config: planConfig(plan) } as never;
    await expect(manifestPlan(m, 'x.csv')).rejects.toThrow(
      `format ${MANIFEST_FORMAT + 1}, newer than this engine reads`,
    );
    await expect(manifestPlan({ format: 1 } as never, 'x.csv')).rejects.toThrow(/format 1.*records no config/);
  });
});
