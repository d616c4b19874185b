/**
 * Vega-Lite specs from the report's data (./info.ts): one function per figure, plain
 * JSON out. Marks that tests and readers look for carry names (`name` on a view
 * becomes the class of its marks' group in the SVG: `<name>_marks`).
 */
import {
  AXIS_SYMBOL,
  DISPLAY,
  type BestN,
  type CurveBands,
  type Heatmap,
  type LrLines,
  type ReportInfo,
  type Sampled,
  type Smoothed,
  type Trajectories,
} from './info.js';

/** A Vega-Lite spec, as plain JSON (vega-lite checks it when it compiles). */
export type VlSpec = Record<string, unknown>;

/** The id of the pattern hatched cells are filled with (./render.ts defines it). */
export const HATCH = 'hatch';

/** Each optimizer keeps its colour in every figure. */
const OPTIMIZER_COLORS = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#b279a2', '#9d755d'];

const seriesColor = (series: readonly { key: string; optimizer: keyof typeof DISPLAY }[]): object => ({
  domain: series.map((s) => s.key),
  range: series.map((s) => OPTIMIZER_COLORS[Object.keys(DISPLAY).indexOf(s.optimizer)]),
});

/** Axis titles of a metric. */
export function metricTitle(info: ReportInfo): string {
  const { column } = info.metric;
  return `${column} (mean over ${info.plan.seeds.length > 1 ? 'seeds' : 'the seed'})`;
}

/** Log-axis labels: plain between 0.001 and 10⁴, else 1e−7 style (not 0.0000001). */
const LOG_AXIS = {
  labelExpr:
    "abs(datum.value) >= 1e-3 && abs(datum.value) < 1e4 ? format(datum.value, '~g') : format(datum.value, '.0e')",
  // A log axis ticks 1 … 9 in every decade: drop the labels that would overlap.
  labelOverlap: 'greedy',
  labelSeparation: 4,
};

const NO_OK_LEGEND = 'no ok run';
const OFF_SCALE_LEGEND = 'off the scale (> 1000 × the start)';

export function trajectorySpec(t: Trajectories): VlSpec {
  const columns = t.panels.length <= 4 ? 2 : 3;
  const scale = (domain: readonly [number, number]) => ({ domain: [...domain], nice: false, zero: false });
  const x = { type: 'quantitative', scale: scale(t.domain.x), title: t.axes[0] } as const;
  const y = { type: 'quantitative', scale: scale(t.domain.y), title: t.axes[1] } as const;
  const positive = t.contour.levels.every((l) => l > 0);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    datasets: { contour: t.contour.points },
    columns,
    spacing: 24,
    concat: t.panels.map((p) => ({
      title: p.title,
      width: 260,
      height: 200,
      layer: [
        {
          name: `contour_${p.optimizer}`,
          data: { name: 'contour' },
          mark: { type: 'line', strokeWidth: 0.8, clip: true },
          encoding: {
            x: { field: 'x', ...x },
            y: { field: 'y', ...y },
            detail: { field: 'line' },
            order: { field: 'i' },
            color: {
              field: 'level',
              type: 'quantitative',
              scale: { type: positive ? 'log' : 'linear', scheme: 'viridis' },
              legend: null,
            },
          },
        },
        {
          name: `path_${p.optimizer}`,
          data: { values: p.points },
          mark: { type: 'line', color: '#d62728', strokeWidth: 1.2, clip: true },
          encoding: { x: { field: 'x', ...x }, y: { field: 'y', ...y }, order: { field: 'step' } },
        },
        {
          name: `steps_${p.optimizer}`,
          data: { values: p.points },
          mark: { type: 'point', shape: 'circle', filled: true, color: '#d62728', size: 18, clip: true },
          encoding: { x: { field: 'x', ...x }, y: { field: 'y', ...y } },
        },
        {
          name: `optimum_${p.optimizer}`,
          data: { values: [t.optimum] },
          mark: { type: 'point', shape: 'cross', filled: true, color: 'black', size: 110 },
          encoding: { x: { field: 'x', ...x }, y: { field: 'y', ...y } },
        },
        ...(p.missing
          ? [
              {
                data: { values: [{ text: p.missing }] },
                mark: { type: 'text', fontSize: 12, color: '#a00' } as const,
                encoding: { text: { field: 'text' }, x: { value: 130 }, y: { value: 20 } },
              },
            ]
          : []),
      ],
    })),
  };
}

export function curveSpec(c: CurveBands, stepTitle: string): VlSpec {
  const y = c.log
    ? { type: 'quantitative', scale: { type: 'log' }, axis: LOG_AXIS, title: 'loss' }
    : { type: 'quantitative', title: 'loss' };
  const color = {
    field: 'series',
    type: 'nominal',
    scale: seriesColor(c.series),
    // The same legend on both layers (a conflict would drop it), drawn as lines.
    legend: { symbolType: 'stroke', symbolOpacity: 1, symbolStrokeWidth: 2 },
    title: 'best configuration',
  } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: c.points },
    width: 560,
    height: 300,
    layer: [
      {
        name: 'band',
        mark: { type: 'area', opacity: 0.2 },
        encoding: {
          x: { field: 'step', type: 'quantitative', title: stepTitle },
          y: { field: 'min', ...y },
          y2: { field: 'max' },
          color,
        },
      },
      {
        name: 'mean',
        mark: { type: 'line', strokeWidth: 1.5 },
        encoding: { x: { field: 'step', type: 'quantitative' }, y: { field: 'mean', ...y }, color },
      },
    ],
  };
}

/** The book's figure: each optimizer's smoothed training loss, markers every so often, loss 0–1. */
export function smoothedSpec(s: Smoothed): VlSpec {
  const names = [...new Set(s.points.map((p) => p.series))];
  const colors = Object.values(DISPLAY);
  const color = {
    field: 'series',
    type: 'nominal',
    scale: { domain: names, range: names.map((n) => OPTIMIZER_COLORS[colors.indexOf(n)]) },
    title: null,
  } as const;
  const shape = {
    field: 'series',
    type: 'nominal',
    scale: {
      domain: names,
      range: ['circle', 'cross', 'square', 'diamond', 'triangle-up', 'triangle-down'].slice(0, names.length),
    },
    title: null,
  } as const;
  const x = { field: 'step', type: 'quantitative', title: 'iterations' } as const;
  const y = { field: 'loss', type: 'quantitative', scale: { domain: [0, 1] }, title: 'loss' } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: s.points },
    width: 560,
    height: 320,
    layer: [
      { name: 'smoothed', mark: { type: 'line', clip: true }, encoding: { x, y, color } },
      {
        name: 'markers',
        transform: [{ filter: 'datum.marker' }],
        mark: { type: 'point', clip: true, size: 40 },
        encoding: { x, y, color, shape },
      },
    ],
  };
}

/** Marks without a value: crosses (no ok run) and triangles (off the scale) at the edge. */
function edgeMarks(name: string, x: object, y: object, extra: object = {}) {
  return {
    name,
    transform: [{ filter: "datum.mark !== 'value'" }],
    mark: { type: 'point', filled: true, size: 70, clip: false },
    encoding: {
      x,
      y,
      ...extra,
      shape: {
        field: 'mark',
        type: 'nominal',
        scale: { domain: ['no-ok', 'off-scale'], range: ['cross', 'triangle-up'] },
        legend: { title: null, labelExpr: `datum.label === 'no-ok' ? '${NO_OK_LEGEND}' : '${OFF_SCALE_LEGEND}'` },
      },
    },
  };
}

export function lrSpec(l: LrLines, info: ReportInfo): VlSpec {
  const names = Object.values(DISPLAY).filter((n) => l.points.some((p) => p.name === n));
  const alphas = [...new Set(l.points.map((p) => p.alpha))].sort();
  const x = { field: 'lr', type: 'quantitative', scale: { type: 'log' }, title: 'learning rate (lr)' } as const;
  const y = {
    field: 'value',
    type: 'quantitative',
    ...(l.logY ? { scale: { type: 'log' }, axis: LOG_AXIS } : { scale: { zero: false } }),
    title: metricTitle(info),
  } as const;
  const colors = Object.values(DISPLAY);
  const color = {
    field: 'name',
    type: 'nominal',
    scale: { domain: names, range: names.map((n) => OPTIMIZER_COLORS[colors.indexOf(n)]) },
    title: 'optimizer',
  } as const;
  const dash = {
    field: 'alpha',
    type: 'nominal',
    scale: {
      domain: alphas,
      range: alphas.map(
        (_, i) =>
          [
            [1, 0],
            [6, 3],
            [2, 2],
            [8, 2, 2, 2],
          ][i % 4],
      ),
    },
    title: 'momentum',
  } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: l.points },
    width: 560,
    height: 320,
    layer: [
      {
        name: 'lr_lines',
        transform: [{ filter: "datum.mark === 'value'" }],
        mark: { type: 'line' },
        encoding: { x, y, color, strokeDash: dash, detail: { field: 'series' } },
      },
      {
        name: 'lr_points',
        transform: [{ filter: "datum.mark === 'value'" }],
        mark: { type: 'point', filled: true, size: 30 },
        encoding: { x, y, color },
      },
      ...(l.points.some((p) => p.mark !== 'value') ? [edgeMarks('lr_edge', x, y, { color })] : []),
    ],
  };
}

export function heatmapSpec(h: Heatmap, info: ReportInfo): VlSpec {
  const xs = [...new Set(h.cells.map((c) => c.x))].sort((a, b) => a - b);
  const ys = [...new Set(h.cells.map((c) => c.y))].sort((a, b) => a - b);
  const x = {
    field: 'x',
    type: 'ordinal',
    scale: { domain: xs },
    axis: { labelAngle: 0 },
    title: 'learning rate (lr)',
  };
  const y = {
    field: 'y',
    type: 'ordinal',
    scale: { domain: ys.slice().reverse() },
    title: axisTitle(h.axes[1]),
  };
  const labels = h.cells.length <= 100;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: DISPLAY[h.optimizer],
    data: { values: h.cells },
    width: Math.max(16, Math.min(72, Math.floor(640 / xs.length))) * xs.length,
    height: Math.max(16, Math.min(44, Math.floor(360 / ys.length))) * ys.length,
    layer: [
      {
        name: `cells_${h.optimizer}`,
        transform: [{ filter: "datum.mark === 'value'" }],
        mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
        encoding: {
          x,
          y,
          color: {
            field: 'value',
            type: 'quantitative',
            scale: { type: h.logColor ? 'log' : 'linear', scheme: 'viridis', reverse: !info.metric.higher },
            legend: { format: '.3~g', title: info.metric.column },
          },
        },
      },
      {
        name: `offscale_${h.optimizer}`,
        transform: [{ filter: "datum.mark === 'off-scale'" }],
        mark: { type: 'rect', fill: '#555', stroke: 'white', strokeWidth: 1 },
        encoding: { x, y },
      },
      {
        name: `hatched_${h.optimizer}`,
        transform: [{ filter: "datum.mark === 'no-ok'" }],
        mark: { type: 'rect', fill: `url(#${HATCH})`, stroke: '#888', strokeWidth: 1 },
        encoding: { x, y },
      },
      ...(labels
        ? [
            {
              name: `labels_${h.optimizer}`,
              mark: { type: 'text', fontSize: 10 },
              encoding: {
                x,
                y,
                text: { field: 'label' },
                color: {
                  condition: { test: "datum.dark || datum.mark === 'off-scale'", value: 'white' },
                  value: '#111',
                },
              },
            },
          ]
        : []),
    ],
  };
}

/** The book's "Best-1 … Best-20": held-out accuracy solid, training dashed (the book
 * draws no legend; the caption says it). Without accuracies, the loss, solid. */
export function bestNSpec(b: BestN): VlSpec {
  const y = b.accuracy
    ? { field: 'value', type: 'quantitative', scale: { domain: [0, 1] }, title: 'accuracy' }
    : { field: 'value', type: 'quantitative', scale: { type: 'log' }, axis: LOG_AXIS, title: 'loss' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    columns: 4,
    spacing: 14,
    concat: b.panels.map((p) => ({
      title: { text: p.title, subtitle: p.subtitle, fontSize: 12, subtitleFontSize: 10, subtitleColor: '#555' },
      width: 180,
      height: 110,
      layer: [
        {
          name: `best_${p.rank}`,
          data: { values: p.points },
          mark: { type: 'line', color: '#1f77b4', clip: true },
          encoding: {
            x: { field: 'x', type: 'quantitative', title: b.x === 'epoch' ? 'epochs' : 'step' },
            y,
            strokeDash: {
              field: 'kind',
              type: 'nominal',
              scale: {
                domain: ['held-out', 'training', 'loss'],
                range: [
                  [1, 0],
                  [4, 3],
                  [1, 0],
                ],
              },
              legend: null,
            },
          },
        },
        ...(p.missing
          ? [
              {
                data: { values: [{ text: p.missing }] },
                mark: { type: 'text', fontSize: 11, color: '#a00' },
                encoding: { text: { field: 'text' }, x: { value: 90 }, y: { value: 55 } },
              },
            ]
          : []),
      ],
    })),
  };
}

export function sampledSpec(s: Sampled, info: ReportInfo): VlSpec {
  const y = {
    field: 'value',
    type: 'quantitative',
    ...(s.logY ? { scale: { type: 'log' }, axis: LOG_AXIS } : { scale: { zero: false } }),
    title: metricTitle(info),
  } as const;
  // The sweep's optimizers only, each in its colour.
  const names = Object.keys(DISPLAY).filter((o) => info.plan.optimizers.some((p) => p.name === o));
  const color = {
    field: 'optimizer',
    type: 'nominal',
    scale: { domain: names, range: names.map((o) => OPTIMIZER_COLORS[Object.keys(DISPLAY).indexOf(o)]) },
    title: 'optimizer',
  } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: s.points.map((p) => ({ ...p.values, optimizer: p.optimizer, value: p.value, mark: p.mark })) },
    hconcat: s.axes.map(({ axis, log }) => {
      const x = {
        field: axis,
        type: 'quantitative',
        ...(log ? { scale: { type: 'log' }, axis: LOG_AXIS } : { scale: { zero: false } }),
        title: axisTitle(axis),
      } as const;
      return {
        width: 300,
        height: 260,
        layer: [
          {
            name: `sampled_${axis}`,
            transform: [{ filter: `datum.mark === 'value' && isValid(datum['${axis}'])` }],
            mark: { type: 'point', filled: true, size: 22, opacity: 0.75 },
            encoding: { x, y, color },
          },
          // Only where there are such marks: an empty layer leaves its scales no extent.
          ...(s.points.some((p) => p.mark !== 'value' && p.values[axis] !== undefined)
            ? [
                {
                  ...edgeMarks(`sampled_edge_${axis}`, x, y, { color }),
                  transform: [{ filter: `datum.mark !== 'value' && isValid(datum['${axis}'])` }],
                },
              ]
            : []),
        ],
      };
    }),
  };
}

/** `α (momentum)`; `lr` alone. */
function axisTitle(axis: keyof typeof AXIS_SYMBOL): string {
  return AXIS_SYMBOL[axis] === axis ? axis : `${AXIS_SYMBOL[axis]} (${axis})`;
}
