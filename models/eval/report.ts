// A self-contained HTML report: metric tables, ROC and PR curves as inline SVG, example overlays as data: URIs.
import { METRIC_NAMES, type EvalReport, type Example, type ImageResult, type Metrics, type SeedRun } from './run.ts';

const LABELS: Record<keyof Metrics, string> = {
  iAuroc: 'I-AUROC',
  iAp: 'I-AP',
  iF1max: 'I-F1max',
  pAuroc: 'P-AUROC',
  pAupr: 'P-AUPR',
  pF1max: 'P-F1max',
  aupro: 'AUPRO@0.3',
  overkillAt2pctEscape: 'overkill @2% escape',
  overkillAt5pctEscape: 'overkill @5% escape',
};

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const pct = (v: number) => (Number.isFinite(v) ? (100 * v).toFixed(1) : '–');

const TICKS = [0, 0.2, 0.4, 0.6, 0.8, 1];

/** A square curve plot over [0, 1]² with ticks, grid lines and axis labels. */
function plot(title: string, points: [number, number][], xLabel: string, yLabel: string, diagonal: boolean): string {
  const W = 250, H = 240, L = 44, R = 10, T = 24, B = 38;
  const sx = (x: number) => L + x * (W - L - R);
  const sy = (y: number) => H - B - y * (H - T - B);
  const path = points.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
  const grid = TICKS.map((v) => `<line x1="${sx(v)}" y1="${sy(0)}" x2="${sx(v)}" y2="${sy(1)}" stroke="#e3e3e3"/><line x1="${sx(0)}" y1="${sy(v)}" x2="${sx(1)}" y2="${sy(v)}" stroke="#e3e3e3"/>`
    + `<text x="${sx(v)}" y="${sy(0) + 13}" font-size="10" text-anchor="middle">${v.toFixed(1)}</text>`
    + `<text x="${sx(0) - 4}" y="${sy(v) + 3}" font-size="10" text-anchor="end">${v.toFixed(1)}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(title)}">
<rect x="${sx(0)}" y="${sy(1)}" width="${sx(1) - sx(0)}" height="${sy(0) - sy(1)}" fill="#fafafa"/>${grid}
<rect x="${sx(0)}" y="${sy(1)}" width="${sx(1) - sx(0)}" height="${sy(0) - sy(1)}" fill="none" stroke="#999"/>
${diagonal ? `<line x1="${sx(0)}" y1="${sy(0)}" x2="${sx(1)}" y2="${sy(1)}" stroke="#bbb" stroke-dasharray="4 3"/>` : ''}
<path d="${path}" fill="none" stroke="#c0392b" stroke-width="2"/>
<text x="${(sx(0) + sx(1)) / 2}" y="${H - 6}" font-size="11" text-anchor="middle">${xLabel}</text>
<text x="12" y="${(sy(0) + sy(1)) / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 12 ${(sy(0) + sy(1)) / 2})">${yLabel}</text>
<text x="${sx(0)}" y="15" font-size="11" font-weight="bold">${escapeHtml(title)}</text>
</svg>`;
}

/** Good vs defective image scores as two overlaid histograms, with the overkill thresholds marked. */
function scoreHistogram(images: ImageResult[], thresholds: { value: number; label: string }[]): string {
  const W = 330, H = 240, L = 40, R = 10, T = 24, B = 38, BINS = 20;
  const scores = images.map((i) => i.score);
  let lo = Math.min(...scores, ...thresholds.map((t) => t.value));
  let hi = Math.max(...scores, ...thresholds.map((t) => t.value));
  if (!(hi > lo)) { lo -= 0.05; hi += 0.05; }
  const pad = (hi - lo) * 0.04;
  lo -= pad; hi += pad;
  const bin = (v: number) => Math.min(BINS - 1, Math.max(0, Math.floor(((v - lo) / (hi - lo)) * BINS)));
  const good = new Array<number>(BINS).fill(0);
  const bad = new Array<number>(BINS).fill(0);
  for (const i of images) (i.anomalous ? bad : good)[bin(i.score)]!++;
  const top = Math.max(1, ...good, ...bad);
  const sx = (v: number) => L + ((v - lo) / (hi - lo)) * (W - L - R);
  const sy = (n: number) => H - B - (n / top) * (H - T - B);
  const bw = (W - L - R) / BINS;
  const bars = (counts: number[], colour: string) => counts.map((n, k) => (n ? `<rect x="${(L + k * bw).toFixed(1)}" y="${sy(n).toFixed(1)}" width="${bw.toFixed(1)}" height="${(sy(0) - sy(n)).toFixed(1)}" fill="${colour}" fill-opacity="0.55" stroke="${colour}"/>` : '')).join('');
  const xTicks = Array.from({ length: 5 }, (_, k) => lo + ((hi - lo) * k) / 4)
    .map((v) => `<line x1="${sx(v)}" y1="${sy(0)}" x2="${sx(v)}" y2="${sy(0) + 4}" stroke="#999"/><text x="${sx(v)}" y="${sy(0) + 14}" font-size="10" text-anchor="middle">${v.toFixed(3)}</text>`).join('');
  const yStep = Math.max(1, Math.ceil(top / 4));
  const yTicks = Array.from({ length: Math.floor(top / yStep) + 1 }, (_, k) => k * yStep)
    .map((n) => `<line x1="${L - 4}" y1="${sy(n)}" x2="${L}" y2="${sy(n)}" stroke="#999"/><text x="${L - 6}" y="${sy(n) + 3}" font-size="10" text-anchor="end">${n}</text>`).join('');
  const marks = thresholds.map((t, k) => `<line x1="${sx(t.value)}" y1="${sy(top)}" x2="${sx(t.value)}" y2="${sy(0)}" stroke="#333" stroke-dasharray="4 3"/><text x="${sx(t.value) + 3}" y="${T + 10 + 11 * k}" font-size="10">${escapeHtml(t.label)}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="image scores, good vs defective">
<rect x="${L}" y="${sy(top)}" width="${W - L - R}" height="${sy(0) - sy(top)}" fill="#fafafa" stroke="#999"/>
${bars(good, '#16a34a')}${bars(bad, '#dc2626')}${marks}${xTicks}${yTicks}
<text x="${(L + W - R) / 2}" y="${H - 6}" font-size="11" text-anchor="middle">image score</text>
<text x="11" y="${(sy(0) + sy(top)) / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 11 ${(sy(0) + sy(top)) / 2})">images</text>
<text x="${L}" y="15" font-size="11" font-weight="bold">Scores: <tspan fill="#16a34a">good (${good.reduce((a, b) => a + b, 0)})</tspan> vs <tspan fill="#dc2626">defective (${bad.reduce((a, b) => a + b, 0)})</tspan></text>
</svg>`;
}

function metricRow(name: string, m: Metrics, strong = false): string {
  const cells = METRIC_NAMES.map((k) => `<td>${pct(m[k])}</td>`).join('');
  return `<tr${strong ? ' class="mean"' : ''}><th>${escapeHtml(name)}</th>${cells}</tr>`;
}

function exampleFigure(e: Example, threshold: number): string {
  const name = escapeHtml(e.image.split('/').pop() ?? e.image);
  const truth = e.groundTruth
    ? `<img src="${e.groundTruth}" width="192" height="192" alt="ground truth of ${escapeHtml(e.image)}">`
    : '<div class="good-part">good part:<br>no defect in the ground truth</div>';
  return `<figure><div class="pair"><img src="${e.overlay}" width="192" height="192" alt="overlay of ${escapeHtml(e.image)}">${truth}</div>
<figcaption>${escapeHtml(e.type)} · ${name} · score ${e.score.toFixed(3)}<br>left: heat map at ${threshold.toFixed(3)} · right: ground truth</figcaption></figure>`;
}

function runSection(label: string, r: SeedRun): string {
  const { at2pctEscape, at5pctEscape } = r.overkillThresholds;
  const overkill = `<p class="overkill">overkill @2% escape: <b>${pct(r.metrics.overkillAt2pctEscape)} %</b> of good parts fail at image-score threshold <b>${at2pctEscape.toFixed(4)}</b>
 · @5% escape: <b>${pct(r.metrics.overkillAt5pctEscape)} %</b> at <b>${at5pctEscape.toFixed(4)}</b> (score ≥ threshold fails; the highest threshold that lets at most 2 % / 5 % of defective parts pass)</p>`;
  const plots = plot(`ROC, I-AUROC ${pct(r.metrics.iAuroc)}`, r.curves.roc, 'false-positive rate', 'true-positive rate', true)
    + plot(`PR, I-AP ${pct(r.metrics.iAp)}`, r.curves.pr, 'recall', 'precision', false)
    + scoreHistogram(r.images, [{ value: at2pctEscape, label: `2% escape ${at2pctEscape.toFixed(3)}` }, { value: at5pctEscape, label: `5% escape ${at5pctEscape.toFixed(3)}` }]);
  const note = `<p class="note">Examples: heat maps coloured and outlined at the run's P-F1max map threshold ${r.exampleThreshold.toFixed(4)} (the legend in each picture shows it).</p>`;
  return `<div class="run"><h3>${label}</h3>${overkill}<div class="plots">${plots}</div>${note}<div class="examples">${r.examples.map((e) => exampleFigure(e, r.exampleThreshold)).join('')}</div></div>`;
}

export function renderHtml(report: EvalReport): string {
  const head = `<tr><th>class</th>${METRIC_NAMES.map((k) => `<th>${LABELS[k]}</th>`).join('')}</tr>`;
  const table = [head, ...report.classes.map((c) => metricRow(c.name, c.mean)), metricRow('mean', report.mean, true)].join('\n');
  const sections = report.classes
    .map((c) => {
      const runs = c.runs
        .map((r) => {
          const label = r.seed === null ? 'zero-shot' : `seed ${r.seed}, shots: ${r.shots.map((s) => escapeHtml(s.split('/').pop() ?? s)).join(', ')}`;
          return runSection(label, r);
        })
        .join('\n');
      return `<section><h2>${escapeHtml(c.name)}</h2>${runs}</section>`;
    })
    .join('\n');
  const mode = report.shots ? `${report.shots}-shot, seeds ${report.seeds.join(', ')}` : 'zero-shot';
  const side = `${report.pixelSize}×${report.pixelSize}`;
  const grid =
    report.pixelSize === report.imageSize
      ? `pixel metrics on the model's ${side} grid (official MVTec AD / VisA protocol)`
      : `pixel metrics on a ${side} grid (maps bilinear and ${report.imageSize}×${report.imageSize} ground truth nearest to it, as the official Real-IAD protocol)`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AdaptCLIP evaluation · ${escapeHtml(report.pack)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th:first-child{text-align:left}tr.mean{font-weight:bold;background:#f3f3f3}.plots,.examples{display:flex;gap:12px;flex-wrap:wrap}
figure{margin:0;width:388px}.pair{display:flex;gap:4px}.good-part{width:192px;height:192px;display:flex;align-items:center;justify-content:center;text-align:center;background:#f3f3f3;color:#555;font-size:12px}
figcaption{font-size:11px;color:#555;word-break:break-all}.overkill,.note{font-size:12px;color:#333}
</style></head><body>
<h1>AdaptCLIP evaluation</h1>
<p>pack <code>${escapeHtml(report.pack)}</code> · provider ${escapeHtml(report.provider)} · ${mode} · ${grid} · values in %</p>
<p>Metrics as the official AdaptCLIP test computes them: ground truth = mask &gt; 0, Pillow-bilinear to S×S, ≥ 128;
I-AP and P-AUPR = area under the precision-recall curve (trapezoids); F1max over every distinct score;
AUPRO = anomalib's per-region curve up to FPR 0.3; means over seeds, then over classes. Overkill is this tool's own figure;
its thresholds (per run) are stated under each run's heading.</p>
<table>${table}</table>
${sections}
</body></html>
`;
}
