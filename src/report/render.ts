/**
 * The report page: each figure's Vega-Lite spec compiled (vega-lite) and rendered to
 * SVG (vega, headless) here, at report time, and set into one self-contained HTML
 * file: styles and the leaderboard's sorting script inline, no request of any kind
 * (its Content-Security-Policy forbids them), so it opens from disk offline.
 */
import { View, parse } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { summaryHeader, type SummaryRow } from '../aggregate.js';
import { useTextWidths } from './text-width.js';
import { DISPLAY, LEADERBOARD_ROWS, reportInfo, short, type ReportInfo, type ReportInput } from './info.js';
import {
  HATCH,
  type VlSpec,
  bestNSpec,
  curveSpec,
  heatmapSpec,
  lrSpec,
  sampledSpec,
  smoothedSpec,
  trajectorySpec,
} from './specs.js';

export type { ReportInput } from './info.js';

const CONFIG = {
  font: 'Helvetica, Arial, sans-serif',
  background: 'white',
  view: { stroke: '#bbb' },
  axis: { labelFontSize: 11, titleFontSize: 12, grid: false },
  legend: { labelFontSize: 11, labelLimit: 320 },
  title: { fontSize: 13, fontWeight: 'normal' as const },
  // ARIA labels on every mark would double the page of a large sweep.
  aria: false,
};

/** What vega-lite and vega said while a spec was drawn (a clean spec draws silently). */
export const warnings: string[] = [];

const logger = {
  level(): number {
    return 0;
  },
  error(...args: unknown[]): never {
    throw new Error(args.join(' '));
  },
  warn(...args: unknown[]) {
    warnings.push(args.join(' '));
    return logger;
  },
  info: () => logger,
  debug: () => logger,
};

/** A spec as SVG markup. */
export async function toSvg(spec: VlSpec): Promise<string> {
  useTextWidths();
  const vg = compile(spec as unknown as TopLevelSpec, { config: CONFIG, logger: logger as never }).spec;
  const view = new View(parse(vg), { renderer: 'none', logger: logger as never });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const HATCH_DEFS = `<defs><pattern id="${HATCH}" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f4f4f4"/><line x1="0" y1="0" x2="0" y2="6" stroke="#999" stroke-width="2"/></pattern></defs>`;

const escape = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

interface Figure {
  id: string;
  title: string;
  svg: string;
  caption: string;
  notes: string[];
}

async function figures(info: ReportInfo): Promise<Figure[]> {
  const out: Figure[] = [];
  const { plan } = info;
  const stepTitle = plan.problem.name === 'mnist-mlp' ? 'iterations' : 'step';
  if (info.trajectories) {
    const t = info.trajectories;
    out.push({
      id: 'trajectories',
      title: 'Optimizer paths over the loss contour',
      svg: await toSvg(trajectorySpec(t)),
      caption: `Each optimizer's best configuration (its best ok run), from the start to the last step recorded, over the contour of the loss; the cross marks the ${t.optimum.known ? 'optimum' : 'lowest point of the grid'} (${short(t.optimum.x)}, ${short(t.optimum.y)}). As the book's figure "optimizer_compare_naive".`,
      notes: t.panels.filter((p) => p.missing).map((p) => `${DISPLAY[p.optimizer]}: ${p.missing}.`),
    });
  }
  if (info.curves) {
    const c = info.curves;
    out.push({
      id: 'curves',
      title: 'Loss curves of the best configurations',
      svg: c.points.length > 0 ? await toSvg(curveSpec(c, stepTitle)) : '',
      caption: `Each optimizer's best configuration: the mean over its ok seeds (line) and their range (band)${c.log ? ', log scale' : ''}.`,
      notes: c.missing.length > 0 ? [`No curve recorded for the best configuration of ${c.missing.join(', ')}.`] : [],
    });
  }
  if (info.smoothed)
    out.push({
      id: 'smoothed',
      title: 'Training loss, smoothed as in the book',
      svg: await toSvg(smoothedSpec(info.smoothed)),
      caption:
        "The minibatch loss of each optimizer's best configuration (mean over seeds) smoothed with the book's smooth_curve (Kaiser window of 11, β = 2), loss axis 0–1: the book's figure \"optimizer_compare_mnist\".",
      notes: [],
    });
  if (info.lr) {
    const over = info.lr.over.length > 0 ? ` Each point is the best over ${info.lr.over.join(', ')}.` : '';
    out.push({
      id: 'lr',
      title: `Learning rate against ${info.metric.column}`,
      svg: await toSvg(lrSpec(info.lr, info)),
      caption: `One line per optimizer and momentum α; ${info.lr.logY ? 'log–log' : 'log learning-rate axis'}.${over} Configurations without an ok run are crosses at the ${info.metric.higher ? 'bottom' : 'top'} edge, not values.`,
      notes: [],
    });
  }
  for (const h of info.heatmaps) {
    const over = h.over.length > 0 ? ` Each cell is the best over ${h.over.join(', ')}.` : '';
    out.push({
      id: `heatmap-${h.optimizer}`,
      title: `${DISPLAY[h.optimizer]}: ${h.axes[0]} × ${h.axes[1]}`,
      svg: (await toSvg(heatmapSpec(h, info))).replace(/(<svg[^>]*>)/, `$1${HATCH_DEFS}`),
      caption: `Mean ${info.metric.column} per cell (${info.metric.higher ? 'higher' : 'lower'} is better).${over} Hatched cells: no ok run (diverged, error${plan.earlyStopping ? ' or pruned' : ''}).`,
      notes: [],
    });
  }
  if (info.bestN) {
    const b = info.bestN;
    out.push({
      id: 'best-n',
      title: `Best-1 … Best-${b.panels.length} of the random search`,
      svg: await toSvg(bestNSpec(b)),
      caption: b.accuracy
        ? `The top trials by ${info.metric.column}: ${b.heldOut} solid, training accuracy dashed, per ${b.x}, as the book's figure of its hyperparameter search.`
        : `The top trials by ${info.metric.column}: their training loss per ${b.x}.`,
      notes: [
        ...(!b.accuracy && plan.problem.name === 'mnist-mlp'
          ? ['The curves hold no accuracies at their checkpoints: the panels show the training loss instead.']
          : []),
        ...b.panels.filter((p) => p.missing).map((p) => `Best-${p.rank}: ${p.missing}.`),
      ],
    });
  }
  if (info.sampled) {
    const s = info.sampled;
    out.push({
      id: 'sampled',
      title: `${info.metric.column} against each sampled axis`,
      svg: await toSvg(sampledSpec(s, info)),
      caption: `One point per trial and optimizer (the mean over seeds); crosses at the edge: no ok run.`,
      notes:
        s.drawn < s.of
          ? [`${s.drawn} of ${s.of} configurations drawn: the best 500 and an even sample of the rest.`]
          : [],
    });
  }
  return out;
}

function leaderboardHtml(info: ReportInfo): string {
  const { plan, summary, leaderboard } = info;
  // The summary CSV's columns, rank first.
  const head = ['rank', ...summaryHeader(plan, summary).slice(0, -1)];
  const num = (x: number | undefined): string =>
    x === undefined || !Number.isFinite(x) ? '<td data-v=""></td>' : `<td data-v="${x}">${short(x)}</td>`;
  const row = (r: SummaryRow): string =>
    `<tr class="${r.ok === 0 ? 'none' : ''}">${[
      num(r.rank),
      `<td data-v="${r.optimizer}">${DISPLAY[r.optimizer]}</td>`,
      ...plan.columns.map((a) => num(r.axes[a])),
      ...r.problemValues.map((v) => {
        const text = typeof v === 'number' ? short(v) : typeof v === 'string' ? v : JSON.stringify(v);
        return `<td data-v="${escape(String(typeof v === 'number' ? v : text))}">${escape(text)}</td>`;
      }),
      ...(plan.random ? [num(r.trial)] : []),
      num(r.seeds),
      num(r.ok),
      `<td data-v="${r.diverged}"${r.diverged > 0 ? ' class="bad"' : ''}>${r.diverged}</td>`,
      `<td data-v="${r.error}"${r.error > 0 ? ' class="bad"' : ''}>${r.error}</td>`,
      ...(plan.earlyStopping ? [num(r.pruned)] : []),
      ...r.stats.flatMap((s) => [num(s.mean), num(s.std), num(s.min), num(s.max)]),
    ].join('')}</tr>`;
  const hidden =
    leaderboard.hidden > 0
      ? `<p class="note">The best ${LEADERBOARD_ROWS} configurations of each optimizer; ${leaderboard.hidden} more are in the summary CSV.</p>`
      : '';
  return `<table id="leaderboard-table"><thead><tr>${head.map((h) => `<th scope="col">${escape(h)}</th>`).join('')}</tr></thead><tbody>${leaderboard.rows.map(row).join('')}</tbody></table>${hidden}`;
}

const STYLE = `
body{font:14px/1.45 Helvetica,Arial,sans-serif;margin:24px auto;max-width:1180px;padding:0 16px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 6px}
.meta{color:#555;margin:0 0 8px}.note{color:#555;font-size:13px}
.partial,.missing{background:#fff3cd;border:1px solid #e0c36a;padding:6px 10px;margin:8px 0}
figure{margin:0;overflow-x:auto}figcaption{color:#444;font-size:13px;max-width:900px;margin-top:4px}
table{border-collapse:collapse;font-size:12.5px;font-variant-numeric:tabular-nums}
th,td{padding:3px 7px;border-bottom:1px solid #e3e3e3;text-align:right;white-space:nowrap}
th{cursor:pointer;user-select:none;background:#f6f6f6;position:sticky;top:0}
th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
td:nth-child(2){text-align:left}tr.none td{color:#999}td.bad{color:#b00020;font-weight:bold}
nav a{margin-right:12px}
`;

/** Sorts the leaderboard by a clicked column (numbers as numbers, blanks last). */
const SCRIPT = `
document.querySelectorAll('#leaderboard-table th').forEach(function (th, col) {
  th.addEventListener('click', function () {
    var up = th.getAttribute('aria-sort') !== 'ascending';
    document.querySelectorAll('#leaderboard-table th').forEach(function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', up ? 'ascending' : 'descending');
    var body = th.closest('table').tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
      if (x === '' || y === '') return x === y ? 0 : x === '' ? 1 : -1;
      var nx = Number(x), ny = Number(y);
      var c = isNaN(nx) || isNaN(ny) ? (x < y ? -1 : x > y ? 1 : 0) : nx - ny;
      return up ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
`;

/** The whole page, for `input`. */
export async function renderReport(input: ReportInput): Promise<string> {
  const info = reportInfo(input);
  const { plan, runs } = info;
  const figs = await figures(info);
  const pruned = plan.earlyStopping ? `, ${runs.pruned} pruned (stopped early)` : '';
  const status = `${runs.present} of ${runs.total} runs: ${runs.ok} ok, ${runs.diverged} diverged, ${runs.error} error${pruned}`;
  const axes = plan.columns.length > 0 ? `; axes ${plan.columns.join(', ')}` : '';
  const meta = `${escape(plan.problem.name)}, ${plan.steps} steps, ${plan.seeds.length} seed${plan.seeds.length > 1 ? 's' : ''}${plan.random ? `, random search of ${plan.trials} trials` : ''}${axes}. ${status}. Ranked by the mean ${escape(info.metric.column)} over seeds (${info.metric.higher ? 'higher' : 'lower'} is better).`;
  const partial = info.complete ? '' : `<p class="partial" role="status">${escape(info.notes[0])}</p>`;
  const notes = info.notes
    .slice(info.complete ? 0 : 1)
    .map((n) => `<p class="missing">${escape(n)}</p>`)
    .join('');
  const sections = figs
    .map(
      (f) =>
        `<section id="${f.id}" data-figure="${f.id}"><h2>${escape(f.title)}</h2>${f.notes.map((n) => `<p class="missing">${escape(n)}</p>`).join('')}<figure>${f.svg}<figcaption>${escape(f.caption)}</figcaption></figure></section>`,
    )
    .join('\n');
  const nav = [['leaderboard', 'Leaderboard'], ...figs.map((f) => [f.id, f.title])]
    .map(([id, t]) => `<a href="#${id}">${escape(t)}</a>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(info.title)}: sweep report</title>
<style>${STYLE}</style></head>
<body data-complete="${info.complete}">
<header><h1>${escape(info.title)}</h1><p class="meta">${meta}</p>${partial}${notes}<nav>${nav}</nav></header>
<section id="leaderboard" data-figure="leaderboard"><h2>Leaderboard</h2><p class="note">One row per configuration (every axis but the seed), the best first per optimizer; click a heading to sort.</p>${leaderboardHtml(info)}</section>
${sections}
<script>${SCRIPT}</script>
</body></html>
`;
}
