// A self-contained HTML report: metric tables, ROC and PR curves as inline SVG, example overlays as data: URIs.
import { METRIC_NAMES, type EvalReport, type Metrics } from './run.ts';

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

function plot(title: string, points: [number, number][], xLabel: string, yLabel: string, diagonal: boolean): string {
  const W = 220, H = 220, M = 30;
  const sx = (x: number) => M + x * (W - M - 8);
  const sy = (y: number) => H - M - y * (H - M - 8);
  const path = points.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(title)}">
<rect x="${M}" y="8" width="${W - M - 8}" height="${H - M - 8}" fill="#fafafa" stroke="#999"/>
${diagonal ? `<line x1="${sx(0)}" y1="${sy(0)}" x2="${sx(1)}" y2="${sy(1)}" stroke="#ccc" stroke-dasharray="4 3"/>` : ''}
<path d="${path}" fill="none" stroke="#c0392b" stroke-width="2"/>
<text x="${W / 2}" y="${H - 6}" font-size="11" text-anchor="middle">${xLabel}</text>
<text x="10" y="${H / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 10 ${H / 2})">${yLabel}</text>
<text x="${M + 4}" y="22" font-size="11">${escapeHtml(title)}</text>
</svg>`;
}

function metricRow(name: string, m: Metrics, strong = false): string {
  const cells = METRIC_NAMES.map((k) => `<td>${pct(m[k])}</td>`).join('');
  return `<tr${strong ? ' class="mean"' : ''}><th>${escapeHtml(name)}</th>${cells}</tr>`;
}

export function renderHtml(report: EvalReport): string {
  const head = `<tr><th>class</th>${METRIC_NAMES.map((k) => `<th>${LABELS[k]}</th>`).join('')}</tr>`;
  const table = [head, ...report.classes.map((c) => metricRow(c.name, c.mean)), metricRow('mean', report.mean, true)].join('\n');
  const sections = report.classes
    .map((c) => {
      const runs = c.runs
        .map((r) => {
          const label = r.seed === null ? 'zero-shot' : `seed ${r.seed}, shots: ${r.shots.map((s) => escapeHtml(s.split('/').pop() ?? s)).join(', ')}`;
          const examples = r.examples
            .map((e) => `<figure><img src="${e.overlay}" width="192" height="192" alt="overlay of ${escapeHtml(e.image)}"><figcaption>${escapeHtml(e.type)} · ${escapeHtml(e.image.split('/').pop() ?? e.image)} · score ${e.score.toFixed(3)}</figcaption></figure>`)
            .join('');
          return `<div class="run"><h3>${label}</h3><div class="plots">${plot(`ROC, I-AUROC ${pct(r.metrics.iAuroc)}`, r.curves.roc, 'false-positive rate', 'true-positive rate', true)}${plot(`PR, I-AP ${pct(r.metrics.iAp)}`, r.curves.pr, 'recall', 'precision', false)}</div><div class="examples">${examples}</div></div>`;
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
figure{margin:0;width:192px}figcaption{font-size:11px;color:#555;word-break:break-all}
</style></head><body>
<h1>AdaptCLIP evaluation</h1>
<p>pack <code>${escapeHtml(report.pack)}</code> · provider ${escapeHtml(report.provider)} · ${mode} · ${grid} · values in %</p>
<p>Metrics as the official AdaptCLIP test computes them: ground truth = mask &gt; 0, Pillow-bilinear to S×S, ≥ 128;
I-AP and P-AUPR = area under the precision-recall curve (trapezoids); F1max over every distinct score;
AUPRO = anomalib's per-region curve up to FPR 0.3; means over seeds, then over classes. Overkill is this tool's own figure.</p>
<table>${table}</table>
${sections}
</body></html>
`;
}
