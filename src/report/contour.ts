/**
 * The loss contour of a 2-D problem, for the trajectory figure: the problem's own
 * loss evaluated on a grid over the figure's domain, and its level lines (d3-contour,
 * marching squares) as polylines in the problem's coordinates.
 */
import { contours } from 'd3-contour';
import { Arena } from '../arena.js';
import { problemDef } from '../problems/index.js';
import { rng } from '../rng.js';

export interface Domain {
  readonly x: readonly [number, number];
  readonly y: readonly [number, number];
}

export interface ContourPoint {
  /** The level's loss. */
  readonly level: number;
  /** Which polyline (level lines break where they leave the domain). */
  readonly line: number;
  /** Order along the polyline. */
  readonly i: number;
  readonly x: number;
  readonly y: number;
}

export interface Contour {
  readonly levels: readonly number[];
  readonly points: readonly ContourPoint[];
  /** The lowest grid value and where: the optimum's stand-in when none is known. */
  readonly lowest: { readonly x: number; readonly y: number; readonly loss: number };
}

/** Grid points per axis. */
export const GRID = 96;
/** Level lines: at these quantiles of the grid's losses, denser near the minimum. */
const LEVELS = 12;

/** The loss of a 2-parameter problem on a GRID × GRID grid over `domain` (row-major,
 * y rows; NaN where it is not finite). */
export function lossGrid(problem: { name: string; options: object }, seed: number, domain: Domain): Float64Array {
  const def = problemDef(problem);
  const arena = Arena.create(def.scratchBytes?.(problem.options) ?? 0);
  const p = def.create(problem.options, { seed, rng: (label) => rng(seed, label), data: undefined, arena });
  const W = new Float64Array(2);
  const g = new Float64Array(2);
  const values = new Float64Array(GRID * GRID);
  for (let j = 0; j < GRID; j++)
    for (let i = 0; i < GRID; i++) {
      W[0] = at(domain.x, i);
      W[1] = at(domain.y, j);
      const f = p.lossAndGrad(W, g, 0);
      values[j * GRID + i] = Number.isFinite(f) ? f : NaN;
    }
  return values;
}

const at = (range: readonly [number, number], k: number): number => range[0] + ((range[1] - range[0]) * k) / (GRID - 1);

export function contour(values: Float64Array, domain: Domain): Contour {
  const finite = [...values].filter(Number.isFinite).sort((a, b) => a - b);
  let lowest = { x: NaN, y: NaN, loss: Infinity };
  values.forEach((v, k) => {
    if (v < lowest.loss) lowest = { x: at(domain.x, k % GRID), y: at(domain.y, Math.floor(k / GRID)), loss: v };
  });
  const levels = [
    ...new Set(
      Array.from({ length: LEVELS }, (_, k) => finite[Math.floor(((k + 1) / (LEVELS + 1)) ** 2 * finite.length)]),
    ),
  ].filter((v) => v !== undefined && v > finite[0]);
  const points: ContourPoint[] = [];
  let line = 0;
  // Unsmoothed, d3-contour puts each point midway between two neighbouring samples
  // (sample (i, j) centred at (i + ½, j + ½)): one coordinate an integer k, the edge
  // between samples k − 1 and k, the other the samples' own half-integer. Points on
  // the grid's border (k = 0 or GRID) close rings around the outside: there the
  // polyline breaks. Between the two samples, the level is placed by linear
  // interpolation, in sample units (sample i at i).
  const value = (i: number, j: number): number => values[j * GRID + i];
  const input = Array.from(values, (v) => (Number.isNaN(v) ? Infinity : v));
  for (const shape of contours().size([GRID, GRID]).smooth(false).thresholds(levels)(input)) {
    const level = shape.value;
    const cross = (v0: number, v1: number): number => {
      const t = (level - v0) / (v1 - v0);
      return Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0.5;
    };
    for (const polygon of shape.coordinates)
      for (const ring of polygon) {
        let i = 0;
        for (const [gx, gy] of ring) {
          let col: number;
          let row: number;
          if (Number.isInteger(gx) && gx > 0 && gx < GRID) {
            row = gy - 0.5;
            col = gx - 1 + cross(value(gx - 1, row), value(gx, row));
          } else if (Number.isInteger(gy) && gy > 0 && gy < GRID) {
            col = gx - 0.5;
            row = gy - 1 + cross(value(col, gy - 1), value(col, gy));
          } else {
            if (i > 0) line++;
            i = 0;
            continue;
          }
          points.push({ level, line, i: i++, x: at(domain.x, col), y: at(domain.y, row) });
        }
        line++;
      }
  }
  return { levels, points, lowest };
}
