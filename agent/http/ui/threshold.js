// Threshold workbench for one product: a histogram of its recent scores (pass green, fail red), the shots'
// leave-one-out scores, the threshold it runs with, and a slider that shows how many of those results would change
// verdict at another threshold before it is set (PATCH /api/products/:id, audited) or the calibrated one restored.
import { esc, fmt, toast, api, t, term, termHtml } from './core.js';

const LIMIT = 200;
const BINS = 32;
const W = 560, H = 170, L = 34, R = 12, T = 18, B = 40;

/** How many of `results` would flip at threshold t: judged PASS but score ≥ t, judged FAIL but score < t. */
export function flipsAt(results, t) {
  let toFail = 0, toPass = 0;
  for (const r of results) {
    if (r.outcome === 'PASS' && r.score >= t) toFail++;
    else if (r.outcome === 'FAIL' && r.score < t) toPass++;
  }
  return { toFail, toPass };
}

/** The score range the chart (and the slider) spans: every score, LOO score and threshold, padded, within 0…1. */
function domain(data, extra) {
  const values = [...data.results.map((r) => r.score), ...data.shots.map((s) => s.looScore).filter((v) => v !== null), data.threshold.value, data.threshold.calibrated, extra]
    .filter((v) => typeof v === 'number' && Number.isFinite(v));
  if (!values.length) return [0, 1];
  let lo = Math.min(...values), hi = Math.max(...values);
  const pad = Math.max(0.02, (hi - lo) * 0.08);
  // On the slider's 0.001 grid, so every value it gives is one that Set stores as it is.
  lo = Math.max(0, Math.floor((lo - pad) * 1000) / 1000);
  hi = Math.min(1, Math.ceil((hi + pad) * 1000) / 1000);
  return hi > lo ? [lo, hi] : [0, 1];
}

function chart(data, [lo, hi], slider) {
  const sx = (v) => L + ((v - lo) / (hi - lo)) * (W - L - R);
  const pass = new Array(BINS).fill(0), fail = new Array(BINS).fill(0);
  for (const r of data.results) {
    const k = Math.min(BINS - 1, Math.max(0, Math.floor(((r.score - lo) / (hi - lo)) * BINS)));
    (r.outcome === 'PASS' ? pass : fail)[k]++;
  }
  const top = Math.max(1, ...pass.map((n, k) => n + fail[k]));
  const sy = (n) => H - B - (n / top) * (H - T - B);
  const bw = (W - L - R) / BINS;
  const bars = pass.map((n, k) => {
    const x = (L + k * bw).toFixed(1), w = Math.max(1, bw - 1).toFixed(1);
    return (n ? `<rect class="tw-pass" x="${x}" y="${sy(n).toFixed(1)}" width="${w}" height="${(sy(0) - sy(n)).toFixed(1)}"/>` : '')
      + (fail[k] ? `<rect class="tw-fail" x="${x}" y="${sy(n + fail[k]).toFixed(1)}" width="${w}" height="${(sy(n) - sy(n + fail[k])).toFixed(1)}"/>` : '');
  }).join('');
  const ticks = Array.from({ length: 6 }, (_, k) => lo + ((hi - lo) * k) / 5)
    .map((v) => `<line x1="${sx(v)}" y1="${sy(0)}" x2="${sx(v)}" y2="${sy(0) + 4}" stroke="#6b7280"/><text x="${sx(v)}" y="${sy(0) + 15}" text-anchor="middle">${v.toFixed(3)}</text>`).join('');
  const loo = data.shots.filter((s) => s.looScore !== null)
    .map((s) => `<path class="tw-loo" d="M${sx(s.looScore).toFixed(1)},${sy(0) + 18} l-5,9 h10 z"><title>${esc(t('tw.looTitle', { id: s.shotId, score: fmt(s.looScore) }))}</title></path>`).join('');
  const now = data.threshold.value;
  const line = (v, cls, label, y) => `<line class="${cls}" x1="${sx(v)}" y1="${T - 4}" x2="${sx(v)}" y2="${sy(0)}"/><text class="${cls}-label" x="${sx(v) + 3}" y="${y}">${label}</text>`;
  return `<svg class="tw-chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(t('tw.chartLabel'))}">
    <rect x="${L}" y="${T}" width="${W - L - R}" height="${sy(0) - T}" fill="#f9fafb" stroke="#d1d5db"/>
    ${bars}${ticks}${loo}
    <text x="${L - 4}" y="${sy(top) + 4}" text-anchor="end">${top}</text><text x="${L - 4}" y="${sy(0)}" text-anchor="end">0</text>
    ${now === null ? '' : line(now, 'tw-now', esc(t('tw.now', { value: fmt(now) })), T + 8)}
    ${line(slider, 'tw-slider', `${fmt(slider)}`, T + 20)}
  </svg>`;
}

/** Mounts the workbench for `product` ({ id, name, threshold }) into `el`; reloads itself after a change. */
export async function mountThresholdWorkbench(el, product) {
  el.classList.add('threshold-workbench');
  el.dataset.thresholdWorkbench = String(product.id);
  let data;
  try {
    data = await api('GET', `/api/products/${product.id}/scores?limit=${LIMIT}`);
  } catch (err) {
    el.innerHTML = `<div class="note">${esc(t('tw.error', { error: err.message }))}</div>`;
    return;
  }
  const th = data.threshold;
  let value = Math.round((th.value ?? th.calibrated ?? 0.5) * 1000) / 1000;
  let range = domain(data, value);
  const back = th.calibrated === null ? t('tw.backPlain') : t('tw.back', { value: fmt(th.calibrated) });
  el.innerHTML = `<h3>${esc(t('tw.title'))}</h3>
    <div class="tw-now-text">${t('tw.judgedWith', { value: `<b data-tw="current">${fmt(th.value)}</b>`, source: termHtml('thresholdSource', th.source) })}${th.override !== null && th.calibrated !== null ? ` · ${esc(t('tw.calibratedWould', { value: fmt(th.calibrated) }))}` : ''}.
      ${esc(t('tw.lastResults', { n: data.counts.shown, pass: data.counts.pass, fail: data.counts.fail, passName: term('outcome', 'PASS').name, failName: term('outcome', 'FAIL').name }))}${data.shots.length ? ` <span class="tw-loo-key">▲</span> ${esc(t('tw.looKey', { n: data.shots.length }))}` : ''}</div>
    ${data.note ? `<div class="note">${esc(data.note)}</div>` : ''}
    <div data-tw="chart"></div>
    <input type="range" data-tw="slider" style="margin-left:${L}px;width:${W - L - R}px" min="${range[0]}" max="${range[1]}" step="0.001" value="${value}" aria-label="${esc(t('tw.sliderLabel'))}">
    <div class="tw-row">
      <label>${esc(t('tw.try'))} <input type="number" data-tw="value" min="0" max="1" step="0.001" value="${value.toFixed(3)}"></label>
      <span class="tw-flips">${t('tw.flips', { at: `<b data-tw="at">${fmt(value)}</b>`, toFail: '<b data-tw="to-fail">0</b>', toPass: '<b data-tw="to-pass">0</b>', n: data.counts.shown, passName: esc(term('outcome', 'PASS').name), failName: esc(term('outcome', 'FAIL').name) })}</span>
      <button type="button" class="primary" data-tw="set">${esc(t('products.set'))}</button>
      <button type="button" data-tw="calibrated" ${th.override === null ? 'disabled' : ''}>${esc(back)}</button>
    </div>`;
  const $tw = (name) => el.querySelector(`[data-tw="${name}"]`);
  const slider = $tw('slider'), box = $tw('value');
  const show = () => {
    const { toFail, toPass } = flipsAt(data.results, value);
    $tw('to-fail').textContent = String(toFail);
    $tw('to-pass').textContent = String(toPass);
    $tw('at').textContent = fmt(value);
    $tw('chart').innerHTML = chart(data, range, value);
  };
  slider.addEventListener('input', () => {
    value = Math.round(Number(slider.value) * 1000) / 1000;
    box.value = value.toFixed(3);
    show();
  });
  box.addEventListener('input', () => {
    const v = Number(box.value);
    if (box.value === '' || !Number.isFinite(v) || v < 0 || v > 1) return;
    value = Math.round(v * 1000) / 1000;
    if (v < range[0] || v > range[1]) {
      range = domain(data, v);
      slider.min = String(range[0]);
      slider.max = String(range[1]);
    }
    slider.value = String(v);
    show();
  });
  const patch = async (threshold, done) => {
    try {
      await api('PATCH', `/api/products/${product.id}`, { threshold });
      toast(done);
      await mountThresholdWorkbench(el, { ...product, threshold });
      el.dispatchEvent(new CustomEvent('threshold-changed', { bubbles: true, detail: { productId: product.id, threshold } }));
    } catch (err) { toast(err.message, true); }
  };
  $tw('set').onclick = () => patch(value, t('tw.setDone', { name: product.name, value: value.toFixed(3) }));
  $tw('calibrated').onclick = () => patch(null, t('tw.backDone', { name: product.name }));
  show();
}
