/**
 * The baseline: the same bowl runs as the bench's sweep, written the simplest way
 * in one thread — nested loops, the book's update rules inline, CSV rows joined by
 * hand — with no pool, no shared memory, no generality.
 */
import { writeFileSync } from 'node:fs';

export interface PlainGrid {
  lrs: number[];
  momenta: number[];
  seeds: number;
  steps: number;
}

const OPTIMIZERS = ['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'] as const;

export function plainRuns(grid: PlainGrid): number {
  let n = 0;
  for (const o of OPTIMIZERS) n += grid.lrs.length * (o === 'momentum' || o === 'nesterov' ? grid.momenta.length : 1);
  return n * grid.seeds;
}

/** Runs every run and writes the CSV to `out`; returns the number of runs. */
export function plainSweep(grid: PlainGrid, out: string): number {
  const rows: string[] = ['optimizer,lr,momentum,seed,final_loss'];
  const f = (x: number, y: number): number => (x * x) / 20 + y * y;
  for (const o of OPTIMIZERS) {
    const momenta = o === 'momentum' || o === 'nesterov' ? grid.momenta : [NaN];
    for (const lr of grid.lrs)
      for (const a of momenta)
        for (let seed = 0; seed < grid.seeds; seed++) {
          let x = -7;
          let y = 2;
          let vx = 0,
            vy = 0,
            hx = 0,
            hy = 0,
            mx = 0,
            my = 0;
          for (let t = 1; t <= grid.steps; t++) {
            const gx = x / 10;
            const gy = 2 * y;
            if (o === 'sgd') {
              x -= lr * gx;
              y -= lr * gy;
            } else if (o === 'momentum') {
              vx = a * vx - lr * gx;
              vy = a * vy - lr * gy;
              x += vx;
              y += vy;
            } else if (o === 'nesterov') {
              x += a * a * vx - (1 + a) * lr * gx;
              y += a * a * vy - (1 + a) * lr * gy;
              vx = a * vx - lr * gx;
              vy = a * vy - lr * gy;
            } else if (o === 'adagrad') {
              hx += gx * gx;
              hy += gy * gy;
              x -= (lr * gx) / (Math.sqrt(hx) + 1e-7);
              y -= (lr * gy) / (Math.sqrt(hy) + 1e-7);
            } else if (o === 'rmsprop') {
              hx = 0.99 * hx + 0.01 * gx * gx;
              hy = 0.99 * hy + 0.01 * gy * gy;
              x -= (lr * gx) / (Math.sqrt(hx) + 1e-7);
              y -= (lr * gy) / (Math.sqrt(hy) + 1e-7);
            } else {
              const lrT = (lr * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
              mx += 0.1 * (gx - mx);
              my += 0.1 * (gy - my);
              hx += 0.001 * (gx * gx - hx);
              hy += 0.001 * (gy * gy - hy);
              x -= (lrT * mx) / (Math.sqrt(hx) + 1e-7);
              y -= (lrT * my) / (Math.sqrt(hy) + 1e-7);
            }
          }
          rows.push([o, lr, Number.isNaN(a) ? '' : a, seed, f(x, y)].join(','));
        }
  }
  writeFileSync(out, `${rows.join('\n')}\n`);
  return rows.length - 1;
}
