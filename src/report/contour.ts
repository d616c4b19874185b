/**
 * The loss contour of a 2-D problem, for the trajectory figure: the problem's own
 * loss evaluated on a grid over the figure's domain, and its level lines (d3-contour,
 * marching squares) as polylines in the problem's coordinates.
 */
import { contours } from 'd3-contour';
import { Arena } from '../arena.js';
import { PROBLEMS } from '../problems/index.js';
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
  const def = PROBLEMS[problem.name];
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
  // d3-contour puts sample k at coordinate k, and closes rings along the grid's
  // border (coordinates 0 and GRID): those border points break the polyline.
  const border = (c: number): boolean => c <= 0 || c >= GRID - 1;
  for (const shape of contours().size([GRID, GRID]).thresholds(levels)(
    Array.from(values, (v) => (Number.isNaN(v) ? Infinity : v)),
  )) {
    for (const polygon of shape.coordinates)
      for (const ring of polygon) {
        let i = 0;
        for (const [gx, gy] of ring) {
          if (border(gx) || border(gy)) {
            if (i > 0) line++;
            i = 0;
            continue;
          }
          points.push({ level: shape.value, line, i: i++, x: at(domain.x, gx), y: at(domain.y, gy) });
        }
        line++;
      }
  }
  return { levels, points, lowest };
}
