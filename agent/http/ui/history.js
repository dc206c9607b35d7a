// History: results filtered (product name, full date-time), a detail panel that stays in view with the evidence
// (frame, overlay, mask, score vs threshold, branch scores, defects, timings), ↑/↓ or j/k to step through the list,
// a gallery of each station's recent rejects, and the filtered list as CSV.
import { $, esc, fmt, toast, api, banner, protocol, lang, t, term, termHtml } from './core.js';

const when = (ms) => new Date(ms).toLocaleString(lang, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
/** The outcome of a row in plain words: NO_VERDICT by its reason ("Not inspected: queue full"). */
const outcomeHtml = (outcome, reason, style = '') => `<span class="verdict ${outcome}"${style}>${reason ? termHtml('reason', reason) : termHtml('outcome', outcome)}</span>`;
const frameWords = (state) => (state === 'none' || state === 'pruned' ? term('imageState', state).name : t('history.noFrame'));

export async function history(page, current) {
  const info = await banner();
  page.innerHTML = `<div class="card"><form class="inline" id="filters">
      <label>${esc(t('history.station'))} <input name="station" size="8"></label>
      <label>${esc(t('history.part'))} <input name="part" size="12"></label>
      <label>${esc(t('history.outcome'))} <select name="outcome"><option value="">${esc(t('history.any'))}</option>${Object.values(protocol.outcomes).map((o) => `<option value="${esc(o)}">${esc(term('outcome', o).name)}</option>`).join('')}</select></label>
      <label>${esc(t('history.since'))} <input name="since" type="datetime-local"></label>
      <label>${esc(t('history.limit'))} <input name="limit" type="number" value="50" min="1" max="1000"></label>
      <button class="primary">${esc(t('history.filter'))}</button> <a id="csv" class="button" download>${esc(t('history.csv'))}</a></form></div>
    <div class="card"><h2>${esc(t('history.rejects'))}</h2><div id="gallery"></div></div>
    <div class="history-layout">
      <div class="history-list"><table><thead><tr>${['history.col.seq', 'history.col.station', 'history.col.when', 'history.col.outcome', 'history.col.score', 'history.col.threshold', 'history.col.product', 'history.col.reference', 'history.col.mode', 'history.col.totalMs', 'history.col.evidence'].map((k) => `<th>${esc(t(k))}</th>`).join('')}</tr></thead><tbody id="rows"></tbody></table></div>
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
  const productName = (r) => (r.productId === null ? t('history.noProduct') : products.get(r.productId) ?? t('history.recipe', { recipe: r.recipeId }));

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
      <td>${esc(when(r.decidedAt))}</td><td>${outcomeHtml(r.outcome, r.reason, ' style="font-size:12px"')}</td>
      <td>${fmt(r.score)}</td><td>${fmt(r.threshold)}</td><td>${esc(productName(r))}</td><td>${esc(t('history.setNumber', { version: r.referenceVersion }))}</td><td>${termHtml('mode', r.mode)}${r.shots ? esc(t('history.shots', { n: r.shots })) : ''}</td><td>${fmt(r.totalMs, 0)}</td><td>${r.hasMask ? esc(t('history.mask')) : ''}</td></tr>`).join('');
    document.querySelectorAll('#rows tr').forEach((tr) => (tr.onclick = () => select(Number(tr.dataset.i)).catch((e) => toast(e.message, true))));
    selected = -1;
  };

  const gallery = async () => {
    const parts = await Promise.all(info.stations.map(async (st) => {
      const list = await api('GET', `/api/stations/${encodeURIComponent(st)}/rejects?limit=12`).catch(() => []);
      return `<div class="gallery-station"><h3>${esc(st)}</h3>${list.length ? `<div class="gallery">${list.map((r) => `<button class="thumb" data-id="${r.resultId}" title="${esc(t('history.thumbTitle', { part: r.partId || t('history.seq', { seq: r.resultSeq }), when: when(r.decidedAt), score: fmt(r.score) }))}"><img loading="lazy" src="${r.frameUrl}" alt="${esc(t('history.rejectAlt', { seq: r.resultSeq }))}"><span>#${r.resultSeq} ${fmt(r.score, 2)}</span></button>`).join('')}</div>` : `<div class="note">${esc(t('history.noRejects'))}</div>`}</div>`;
    }));
    if (!current()) return;
    $('#gallery').innerHTML = parts.join('') || `<div class="note">${esc(t('common.noStations'))}</div>`;
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
  const img = (url, cls, alt, missing) => (url ? `<figure><img class="${cls}" src="${url}" alt="${esc(alt)}"><figcaption>${esc(alt)}</figcaption></figure>` : `<figure class="missing"><div class="note">${esc(missing)}</div><figcaption>${esc(alt)}</figcaption></figure>`);
  const ratio = d.threshold.value > 0 ? Math.min(2, r.score / d.threshold.value) : 2;
  const branches = d.branches ? Object.entries(d.branches).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${fmt(v)}</td></tr>`).join('') : '';
  const regions = d.defects.regions ?? [];
  const source = d.threshold.source ? termHtml('thresholdSource', d.threshold.source) : esc(t('history.sourceUnknown'));
  panel.innerHTML = `<div class="detail-head"><h2>${outcomeHtml(r.outcome, r.reason)} #${r.resultSeq} ${esc(r.stationId)}</h2>
      <button class="close" id="detail-close" title="${esc(t('history.close'))}" aria-label="${esc(t('history.close'))}">×</button></div>
    <div class="detail-when">${esc(when(r.decidedAt))}${r.partId ? ` · ${esc(t('history.partId', { part: r.partId }))}` : ''}</div>
    <div class="evidence">
      ${img(d.images.frame.url, 'frame', t('history.frame'), frameWords(d.images.frame.state))}
      ${img(d.images.overlay.url, 'overlay', t('history.overlay'), d.images.frame.url ? t('history.noMap') : frameWords(d.images.frame.state))}
      ${img(d.images.mask.url, 'mask', t('history.maskTitle'), r.outcome === protocol.outcomes.fail && !r.defectCount ? t('history.noMaskOver') : t('history.noMask'))}
    </div>
    <div class="score-line" title="${esc(t('history.scoreTitle'))}"><div class="bar"><span class="fill ${r.outcome}" style="width:${(ratio * 50).toFixed(1)}%"></span><span class="mark"></span></div>
      ${t('history.scoreLine', { score: `<b data-k="score">${fmt(r.score)}</b>`, threshold: `<b data-k="threshold">${fmt(d.threshold.value)}</b>`, source })}</div>
    <dl class="detail-facts">
      <dt>${esc(t('history.product'))}</dt><dd data-k="product">${esc(t('history.productValue', { name: d.productName ?? t('history.noProduct'), recipe: r.recipeId }))}</dd>
      <dt>${esc(t('history.reference'))}</dt><dd>${esc(t('common.referenceSet', { version: r.referenceVersion }))} · ${termHtml('mode', r.mode)}${r.shots ? esc(t('live.shots', { n: r.shots })) : ''}</dd>
      <dt>${esc(t('history.pack'))}</dt><dd>${esc(r.packId)}</dd>
      <dt>${esc(t('history.defects'))}</dt><dd data-k="defects">${esc(t('common.defectsValue', { count: d.defects.count, px: d.defects.areaPx, pct: fmt(d.defects.areaPct, 2) }))}</dd>
      <dt>${esc(t('history.timings'))}</dt><dd>${esc(t('history.timingsValue', { captured: when(d.timings.capturedAt), queue: fmt(d.timings.queueMs, 0), inference: fmt(d.timings.inferenceMs, 0), total: fmt(d.timings.totalMs, 0) }))}</dd>
      <dt>${esc(t('history.resultId'))}</dt><dd><code>${esc(r.resultId)}</code></dd>
    </dl>
    ${regions.length ? `<table class="compact"><thead><tr>${['history.regionCol.defect', 'history.regionCol.box', 'history.regionCol.areaPx', 'history.regionCol.areaPct', 'history.regionCol.peak'].map((k) => `<th>${esc(t(k))}</th>`).join('')}</tr></thead><tbody>${regions.map((g, i) => `<tr><td>${i + 1}</td><td>${g.box.join(', ')}</td><td>${g.areaPx}</td><td>${fmt(g.areaPct, 2)}</td><td>${fmt(g.peak)}</td></tr>`).join('')}</tbody></table>` : ''}
    ${branches ? `<table class="compact branches"><thead><tr><th>${esc(t('history.branch'))}</th><th>${esc(t('history.col.score'))}</th></tr></thead><tbody>${branches}</tbody></table>` : ''}
    <!-- ==== false reject → good shot: the route POST /api/results/:id/keep-as-shot belongs to the shot-capture work ==== -->
    <div class="keep-as-shot"><button id="keep-as-shot" ${d.images.frame.url ? '' : `disabled title="${esc(t('history.noFrameKept'))}"`}>${esc(t('history.keepAsShot'))}</button></div>
    <!-- ==== end of the false-reject place ==== -->`;
  panel.hidden = false;
  $('#detail-close').onclick = () => (panel.hidden = true);
  $('#keep-as-shot').onclick = async () => {
    try {
      const answer = await api('POST', `/api/results/${encodeURIComponent(r.resultId)}/keep-as-shot`, r.productId ? { productId: r.productId } : {});
      toast(answer?.message ?? (answer?.shot?.id ? t('history.keptShot', { id: answer.shot.id }) : t('history.kept')));
    } catch (err) {
      toast(err.message, true);
    }
  };
}
