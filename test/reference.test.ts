/** The book's own code, run on the anisotropic bowl: test/fixtures/reference/anisotropic_bowl.csv (origin in its README). */
import { describe, expect, it } from 'vitest';
import { isOptimizerName } from '../src/optimizers/index.js';
import { fileURLToPath } from 'node:url';
import { makeProblem, readCsv, runHere, spec } from './helpers.js';

const rows = readCsv(fileURLToPath(new URL('./fixtures/reference/anisotropic_bowl.csv', import.meta.url)));

function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), Number.MIN_VALUE);
}

describe('anisotropic bowl matches the book', () => {
  it('has reference rows for every optimizer', () => {
    expect(new Set(rows.map((r) => r.optimizer))).toEqual(
      new Set(['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam']),
    );
  });

  it.each(rows)('$optimizer lr=$lr momentum=$momentum steps=$steps', async (row) => {
    if (!isOptimizerName(row.optimizer)) throw new Error(`unknown optimizer ${row.optimizer}`);
    const overrides = { lr: Number(row.lr), ...(row.momentum ? { momentum: Number(row.momentum) } : {}) };
    const { result, W } = runHere(
      spec(row.optimizer, Number(row.steps), overrides),
      await makeProblem('anisotropic-bowl'),
    );
    expect(result.status).toBe('ok');
    expect(relErr(result.finalLoss, Number(row.loss))).toBeLessThan(1e-12);
    // Coordinates too, where they are not rounding noise around zero.
    for (const [k, ref] of [
      [0, Number(row.x)],
      [1, Number(row.y)],
    ] as const) {
      if (Math.abs(ref) > 1e-6) expect(relErr(W[k], ref)).toBeLessThan(1e-12);
      else expect(Math.abs(W[k] - ref)).toBeLessThan(1e-12);
    }
  });
});
