/**
 * The CSV-injection guard: text cells that a spreadsheet would run as a formula
 * (=, +, -, @, tab, CR first) get a leading quote, while numbers, negative ones
 * included, stay plain numbers. Through the sink's `record` and `row`, and end to
 * end: a sweep through the thread pool whose runs throw formula-like messages, on
 * the book's bowl where final x and y are negative.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { Plan } from '../src/grid.js';
import { createExecutor } from '../src/executors/index.js';
import { PROBLEMS } from '../src/problems/index.js';
import { RowEncoder, columnsOf, csvLine, headerLine } from '../src/csv.js';
import { batchOf } from '../src/results.js';
import { collect } from './helpers.js';
import { FAULTY, faultyProblem } from './fixtures/faulty-problem.mjs';

const FAULTY_WORKER = fileURLToPath(new URL('./fixtures/faulty-worker.mjs', import.meta.url));
const BOOK_BOWL = fileURLToPath(new URL('../configs/book-bowl.json', import.meta.url));

/** The one cell of a one-cell record, as a CSV reader reads it back. */
function readBack(line: string): string {
  const rows = parse(line) as string[][];
  expect(rows).toHaveLength(1);
  expect(rows[0]).toHaveLength(1);
  return rows[0][0];
}

describe('record: text cells', () => {
  const DANGEROUS = [
    ['=', '=1+2'],
    ['=', '=HYPERLINK("http://evil.example","click")'],
    ['+', '+1'],
    ['-', '-1'],
    ['-', '-cmd|calc'],
    ['@', '@SUM(A1:A9)'],
    ['tab', '\t=1'],
    ['tab', '\tplain'],
    ['CR', '\r=1'],
    ['CR', '\rplain'],
  ] as const;

  it.each(DANGEROUS)('a cell starting with %s gets a leading quote: %j', (_first, text) => {
    const line = csvLine([text]);
    expect(line.endsWith('\n')).toBe(true);
    const back = readBack(line);
    expect(back).toBe(`'${text}`);
    // The raw line never starts a cell with the trigger either.
    expect(line.startsWith(text[0])).toBe(false);
    expect(line.startsWith(`"${text[0]}`)).toBe(false);
  });

  it.each([
    ['ok'],
    ['Error: boom'],
    ['worker died: worker exited with code: 1'],
    [' =leading space'],
    ['a=b'],
    ['1-2'],
  ])('a harmless cell is kept as it is: %j', (text) => {
    expect(readBack(csvLine([text]))).toBe(text);
  });

  it('guarded cells still quote where CSV needs it and parse back, in every position of a record', () => {
    const cells = ['=a,b', '-"quoted"', '@x\ny', 'plain', '+1'];
    const line = csvLine(cells);
    const back = parse(line) as string[][];
    expect(back).toEqual([["'=a,b", '\'-"quoted"', "'@x\ny", 'plain', "'+1"]]);
  });
});

describe('record: numbers stay numbers', () => {
  it.each([
    [-1, '-1'],
    [-0.3503929957523197, '-0.3503929957523197'],
    [-1e-300, '-1e-300'],
    [-7, '-7'],
    [+3, '3'],
    [1e21, '1e+21'],
  ])('%d is written as %s, unquoted', (value, text) => {
    const line = csvLine([value]);
    expect(line).toBe(`${text}\n`);
    expect(Number(readBack(line))).toBe(value);
  });

  it('non-finite numbers and missing values are blank', () => {
    expect(csvLine([NaN, Infinity, -Infinity, null, undefined, -2])).toBe(',,,,,-2\n');
  });

  it('a mixed record: numbers plain, dangerous text guarded', () => {
    expect(csvLine([0, 'sgd', -0.5, '=1', '-x', -3])).toBe("0,sgd,-0.5,'=1,'-x,-3\n");
  });
});

describe('row: a run with a formula-like error and negative metrics', () => {
  it('guards the error column and keeps negative metric values plain', () => {
    const plan = parseConfig(readFileSync(BOOK_BOWL, 'utf8'), BOOK_BOWL);
    const encoder = new RowEncoder(plan);
    const batch = batchOf(
      [
        {
          runId: 0,
          status: 'error',
          bestLoss: NaN,
          durationMs: 1.5,
          metrics: new Float64Array(3).fill(NaN),
          error: '=cmd|" /C calc"!A0',
        },
        {
          runId: 1,
          status: 'ok',
          finalLoss: 0.1,
          bestLoss: 0.05,
          durationMs: 2,
          metrics: Float64Array.of(-0.35, -2e-17, 0.36),
        },
      ],
      3,
    );
    const [e, o] = parse(headerLine(columnsOf(plan)) + Buffer.from(encoder.encode(batch).bytes).toString('utf8'), {
      columns: true,
    }) as Record<string, string>[];
    expect(e.error).toBe('\'=cmd|" /C calc"!A0');
    expect(e.status).toBe('error');
    expect([o.x, o.y, o.distance]).toEqual(['-0.35', '-2e-17', '0.36']);
    expect(o.error).toBe('');
  });
});

describe('end to end: a sweep whose runs throw formula-like messages', () => {
  /** The book's bowl, each seed a run of every optimizer; seeds 1–4 throw. */
  const MESSAGES: Record<number, string> = {
    1: '=HYPERLINK("http://evil.example","click")',
    2: '+SUM(1,2)',
    3: '-2+3',
    4: '@SUM(A1)',
  };
  let plan: Plan;
  let csv: string;
  let rows: Record<string, string>[];

  beforeAll(async () => {
    PROBLEMS[FAULTY] = faultyProblem;
    const config = { ...JSON.parse(readFileSync(BOOK_BOWL, 'utf8')), seeds: [0, 1, 2, 3, 4] };
    const base = parseConfig(JSON.stringify(config), BOOK_BOWL);
    // A thrown string is recorded as it is (an Error would be prefixed "Error: ").
    plan = { ...base, problem: { name: FAULTY, options: { throwSeeds: [1, 2, 3, 4], messages: MESSAGES, raw: true } } };
    const executor = createExecutor('piscina', { workers: 2, workerFile: FAULTY_WORKER });
    try {
      await executor.ready();
      ({ csv } = await collect(plan, executor));
    } finally {
      await executor.close();
    }
    rows = parse(csv, { columns: true }) as Record<string, string>[];
  });

  afterAll(() => {
    delete PROBLEMS[FAULTY];
  });

  it('every run is in the CSV', () => {
    expect(rows.map((r) => Number(r.run_id))).toEqual([...Array(plan.total).keys()]);
    expect(plan.total).toBe(20);
  });

  it('each error cell is the message behind a leading quote', () => {
    for (const r of rows) {
      const seed = Number(r.seed);
      if (seed === 0) continue;
      expect(r.status).toBe('error');
      expect(r.error).toBe(`'${MESSAGES[seed]}`);
    }
  });

  it('no cell of the file, as a spreadsheet reads it, starts with a formula trigger, apart from numbers', () => {
    const cells = (parse(csv) as string[][]).flat();
    for (const c of cells) {
      if (c === '' || Number.isFinite(Number(c))) continue;
      expect(c, `cell ${JSON.stringify(c)}`).not.toMatch(/^[=+\-@\t\r]/);
    }
  });

  it('the ok runs (seed 0, the book bowl from (−7, 2)) keep their negative x plain, and match the bowl', () => {
    const ok = rows.filter((r) => r.seed === '0');
    expect(ok.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    const negatives = ok.flatMap((r) => [r.x, r.y]).filter((v) => v.startsWith('-'));
    expect(negatives.length).toBeGreaterThan(0);
    for (const v of negatives) {
      expect(Number.isFinite(Number(v)), v).toBe(true);
      expect(Number(v)).toBeLessThan(0);
      // In the raw file too: a bare number, neither quoted nor guarded.
      expect(csv).toContain(`,${v},`);
      expect(csv).not.toContain(`'${v}`);
    }
    // SGD with lr 0.95 ends left of the optimum, as in the book's figure.
    expect(Number(ok[0].x)).toBeLessThan(0);
  });
});
