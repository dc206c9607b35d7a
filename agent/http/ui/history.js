// History: results filtered (product name, full date-time), a detail panel that stays in view with the evidence
// (frame, overlay, mask, score vs threshold, branch scores, defects, timings), ↑/↓ or j/k to step through the list,
// a gallery of each station's recent rejects, and the filtered list as CSV.
import { $, esc, fmt, toast, api, banner, protocol } from './core.js';

const when = (ms) => new Date(ms).toLocaleString(undefined, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
const SOURCE_WORDS = { override: 'set on the product', shots: 'calibrated from the shots', 'pack-default': "the pack's default" };
const FRAME_WORDS = { none: 'No frame kept (cameras[].keepImages)', pruned: 'Frame removed by retention' };

export async function history(page, current) {
  const info = await banner();
  page.innerHTML = `<div class="card"><form class="inline" id="filters">
      <label>Station <input name="station" size="8"></label>
      <label>Part <input name="part" size="12"></label>
      <label>Outcome <select name="outcome"><option value="">any</option>${Object.values(protocol.outcomes).map((o) => `<option>${esc(o)}</option>`).join('')}</select></label>
      <label>Since <input name="since" type="datetime-local"></label>
      <label>Limit <input name="limit" type="number" value="50" min="1" max="1000"></label>
      <button class="primary">Filter</button> <a id="csv" class="button" download>Download CSV</a></form></div>
    <div class="card"><h2>Recent rejects</h2><div id="gallery"></div></div>
    <div class="history-layout">
      <div class="history-list"><table><thead><tr><th>Seq</th><th>Station</th><th>Date and time</th><th>Outcome</th><th>Score</th><th>Threshold</th><th>Product</th><th>Ref</th><th>Mode</th><th>Total ms</th><th>Evidence</th></tr></thead><tbody id="rows"></tbody></table></div>
      <aside id="detail" class="history-detail" hidden></aside>
    </div>`;
  let rows = [];
  let selected = -1;
  const products = new Map();

  const query = () => {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData($('#filters'))) if (v) q.set(k, k === 'since' ? String(Date.parse(v)) : v);
    return q;
  };
  const productName = (r) => (r.productId === null ? '(none)' : products.get(r.productId) ?? `recipe ${r.recipeId}`);

  const select = async (i) => {
    if (i < 0 || i >= rows.length) return;
    selected = i;
    document.querySelectorAll('#rows tr').forEach((tr, j) => tr.classList.toggle('selected', j === i));
    $(`#rows tr[data-i="${i}"]`)?.scrollIntoView({ block: 'nearest' });
    await showResult(rows[i].resultId);
  };

  const load = async () => {
    const q = query();
    const csvQuery = new URLSearchParams(q);
    csvQuery.delete('limit'); // the CSV has every row of the filter
    $('#csv').href = `/api/results.csv?${csvQuery}`;
    const [list, prods] = await Promise.all([api('GET', `/api/results?${q}`), api('GET', '/api/products').catch(() => [])]);
    if (!current()) return;
    for (const p of prods) products.set(p.id, p.name);
    rows = list;
    $('#rows').innerHTML = rows.map((r, i) => `<tr class="clickable" data-i="${i}" data-id="${r.resultId}"><td>${r.resultSeq}</td><td>${esc(r.stationId)}</td>
      <td>${esc(when(r.decidedAt))}</td><td><span class="verdict ${r.outcome}" style="font-size:12px">${r.outcome}${r.reason ? ` ${r.reason}` : ''}</span></td>
      <td>${fmt(r.score)}</td><td>${fmt(r.threshold)}</td><td>${esc(productName(r))}</td><td>v${r.referenceVersion}</td><td>${r.mode}${r.shots ? ` K=${r.shots}` : ''}</td><td>${fmt(r.totalMs, 0)}</td><td>${r.hasMask ? 'mask' : ''}</td></tr>`).join('');
    document.querySelectorAll('#rows tr').forEach((tr) => (tr.onclick = () => select(Number(tr.dataset.i)).catch((e) => toast(e.message, true))));
    selected = -1;
  };

  const gallery = async () => {
    const parts = await Promise.all(info.stations.map(async (st) => {
      const list = await api('GET', `/api/stations/${encodeURIComponent(st)}/rejects?limit=12`).catch(() => []);
      return `<div class="gallery-station"><h3>${esc(st)}</h3>${list.length ? `<div class="gallery">${list.map((r) => `<button class="thumb" data-id="${r.resultId}" title="${esc(r.partId || `seq ${r.resultSeq}`)} · ${esc(when(r.decidedAt))} · score ${fmt(r.score)}"><img loading="lazy" src="${r.frameUrl}" alt="reject ${r.resultSeq}"><span>#${r.resultSeq} ${fmt(r.score, 2)}</span></button>`).join('')}</div>` : '<div class="note">No rejects with a kept frame.</div>'}</div>`;
    }));
    if (!current()) return;
    $('#gallery').innerHTML = parts.join('') || '<div class="note">No stations configured.</div>';
    document.querySelectorAll('#gallery .thumb').forEach((b) => (b.onclick = () => {
      const i = rows.findIndex((r) => r.resultId === b.dataset.id);
      (i >= 0 ? select(i) : showResult(b.dataset.id)).catch((e) => toast(e.message, true));
    }));
  };

  $('#filters').addEventListener('submit', (e) => {
    e.preventDefault();
    load().catch((err) => toast(err.message, true));
  });
  // ↑/↓ or k/j step through the list (not while typing in the filters).
  const onKey = (e) => {
    if (!current()) return document.removeEventListener('keydown', onKey);
    if (e.target.closest?.('input, select, textarea')) return;
    const step = e.key === 'ArrowDown' || e.key === 'j' ? 1 : e.key === 'ArrowUp' || e.key === 'k' ? -1 : 0;
    if (e.key === 'Escape') $('#detail').hidden = true;
    if (!step || !rows.length) return;
    e.preventDefault();
    select(Math.min(rows.length - 1, Math.max(0, selected + step))).catch((err) => toast(err.message, true));
  };
  document.addEventListener('keydown', onKey);
  await load();
  await gallery();
}

async function showResult(id) {
  const d = await api('GET', `/api/results/${encodeURIComponent(id)}/detail`);
  const r = d.result;
  const panel = $('#detail');
  if (!panel) return;
  const img = (url, cls, alt, missing) => (url ? `<figure><img class="${cls}" src="${url}" alt="${alt}"><figcaption>${alt}</figcaption></figure>` : `<figure class="missing"><div class="note">${esc(missing)}</div><figcaption>${alt}</figcaption></figure>`);
  const ratio = d.threshold.value > 0 ? Math.min(2, r.score / d.threshold.value) : 2;
  const branches = d.branches ? Object.entries(d.branches).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${fmt(v)}</td></tr>`).join('') : '';
  const regions = d.defects.regions ?? [];
  panel.innerHTML = `<div class="detail-head"><h2><span class="verdict ${r.outcome}">${r.outcome}${r.reason ? ` ${esc(r.reason)}` : ''}</span> #${r.resultSeq} ${esc(r.stationId)}</h2>
      <button class="close" id="detail-close" title="Close (Esc)">×</button></div>
    <div class="detail-when">${esc(when(r.decidedAt))}${r.partId ? ` · part ${esc(r.partId)}` : ''}</div>
    <div class="evidence">
      ${img(d.images.frame.url, 'frame', 'Frame', FRAME_WORDS[d.images.frame.state] ?? 'No frame')}
      ${img(d.images.overlay.url, 'overlay', 'Overlay', d.images.frame.url ? 'No anomaly map' : FRAME_WORDS[d.images.frame.state] ?? 'No frame')}
      ${img(d.images.mask.url, 'mask', 'Mask', r.outcome === 'FAIL' && !r.defectCount ? 'No mask: the image score is over the threshold but no map pixel is (defects 0)' : 'No mask stored')}
    </div>
    <div class="score-line" title="score / threshold"><div class="bar"><span class="fill ${r.outcome}" style="width:${(ratio * 50).toFixed(1)}%"></span><span class="mark"></span></div>
      score <b data-k="score">${fmt(r.score)}</b> vs threshold <b data-k="threshold">${fmt(d.threshold.value)}</b> (${esc(SOURCE_WORDS[d.threshold.source] ?? 'source not recorded')})</div>
    <dl class="detail-facts">
      <dt>Product</dt><dd data-k="product">${esc(d.productName ?? '(none)')} (recipe ${r.recipeId})</dd>
      <dt>Reference</dt><dd>v${r.referenceVersion} · ${esc(r.mode)}${r.shots ? `, ${r.shots} shots` : ''}</dd>
      <dt>Pack</dt><dd>${esc(r.packId)}</dd>
      <dt>Defects</dt><dd data-k="defects">${d.defects.count} · ${d.defects.areaPx} px (${fmt(d.defects.areaPct, 2)} %)</dd>
      <dt>Timings</dt><dd>captured ${esc(when(d.timings.capturedAt))} · queue ${fmt(d.timings.queueMs, 0)} ms · inference ${fmt(d.timings.inferenceMs, 0)} ms · total ${fmt(d.timings.totalMs, 0)} ms</dd>
      <dt>Result id</dt><dd><code>${esc(r.resultId)}</code></dd>
    </dl>
    ${regions.length ? `<table class="compact"><thead><tr><th>Defect</th><th>Box (x, y, w, h)</th><th>Area px</th><th>Area %</th><th>Peak</th></tr></thead><tbody>${regions.map((g, i) => `<tr><td>${i + 1}</td><td>${g.box.join(', ')}</td><td>${g.areaPx}</td><td>${fmt(g.areaPct, 2)}</td><td>${fmt(g.peak)}</td></tr>`).join('')}</tbody></table>` : ''}
    ${branches ? `<table class="compact branches"><thead><tr><th>Branch</th><th>Score</th></tr></thead><tbody>${branches}</tbody></table>` : ''}
    <!-- ==== false reject → good shot: the route POST /api/results/:id/keep-as-shot belongs to the shot-capture work ==== -->
    <div class="keep-as-shot"><button id="keep-as-shot" ${d.images.frame.url ? '' : 'disabled title="no frame kept"'}>Keep as good shot (false reject)</button></div>
    <!-- ==== end of the false-reject place ==== -->`;
  panel.hidden = false;
  $('#detail-close').onclick = () => (panel.hidden = true);
  $('#keep-as-shot').onclick = async () => {
    try {
      const answer = await api('POST', `/api/results/${encodeURIComponent(r.resultId)}/keep-as-shot`, r.productId ? { productId: r.productId } : {});
      toast(answer?.message ?? `kept as a good shot${answer?.shot?.id ? ` (shot ${answer.shot.id})` : ''}`);
    } catch (err) {
      toast(err.message, true);
    }
  };
}
