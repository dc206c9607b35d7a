// Overview: the line at a glance, for a screen beside the line (read from two metres) or a 10" touch panel. One
// tile per station: OK / NG / NO VERDICT in big letters (with its plain reason), product, last part with outlines,
// the current shift's counts and yield, camera state, and "New shift" (with a confirmation). Polls GET /api/overview.
import { $, esc, toast, api, banner, every, t, term, termHtml, setTerm, lang, fmt } from './core.js';

const VERDICT_CLASS = { OK: 'ok', NG: 'ng', 'NO VERDICT': 'nv' };
const time = (ms) => new Date(ms).toLocaleString(lang, { weekday: 'short', hour: '2-digit', minute: '2-digit' });

/** A confirmation with large buttons (touch); resolves true on confirm. */
function confirmReset(st) {
  return new Promise((resolve) => {
    const s = st.shift;
    const back = document.createElement('div');
    back.className = 'dialog-back ov-dialog';
    back.innerHTML = `<div class="dialog" role="dialog" aria-modal="true" aria-label="${esc(t('overview.reset.aria', { station: st.id }))}">
      <h3>${esc(t('overview.reset.title', { station: st.id }))}</h3>
      <p>${esc(t('overview.reset.body', { ok: s.ok, ng: s.ng, notInspected: s.notInspected }))}</p>
      <div class="dialog-buttons"><button type="button" data-dialog="cancel">${esc(t('common.cancel'))}</button>
      <button type="button" class="primary" data-dialog="ok">${esc(t('overview.reset.ok'))}</button></div></div>`;
    const done = (v) => { back.remove(); resolve(v); };
    $('[data-dialog=ok]', back).onclick = () => done(true);
    $('[data-dialog=cancel]', back).onclick = () => done(false);
    document.body.append(back);
    $('[data-dialog=cancel]', back).focus();
  });
}

/** Why a tile shows NO VERDICT, in the chosen language: the API names the cause, its `why` is the English words. */
function whyHtml(st, noVerdict) {
  if (!noVerdict) return '';
  const cause = st.verdict.cause;
  if (cause === 'camera') return esc(t('overview.why.camera', { state: term('camera', st.camera.state).name }));
  if (cause === 'no_part') return esc(t('overview.why.noPart'));
  if (cause === 'not_inspected' && st.last) return st.last.reason ? termHtml('reason', st.last.reason) : termHtml('outcome', st.last.outcome);
  return esc(st.verdict.why);
}

function tileHtml(st) {
  return `<div class="ov-head"><span class="ov-station">${esc(st.id)}</span><span class="ov-product"></span></div>
    <div class="ov-verdict" data-verdict></div>
    <div class="ov-why"></div>
    <div class="ov-body">
      <figure class="ov-figure"><img class="ov-image" alt="${esc(t('overview.imageAlt', { station: st.id }))}"><figcaption class="ov-nofig">${esc(t('overview.noImage'))}</figcaption></figure>
      <dl class="ov-counts"></dl>
    </div>
    <div class="ov-foot"><span class="ov-camera"></span>
      <button type="button" class="ov-reset" data-reset="${esc(st.id)}">${esc(t('overview.resetButton'))}</button></div>`;
}

export async function overview(page, current) {
  page.innerHTML = '<div class="ov-grid" id="overview"></div>';
  const tiles = new Map();
  let last = null;

  const render = (view) => {
    last = view;
    const grid = $('#overview');
    if (!view.stations.length) grid.innerHTML = `<div class="card">${esc(t('common.noStations'))}</div>`;
    grid.dataset.count = String(view.stations.length);
    for (const st of view.stations) {
      let tile = tiles.get(st.id);
      if (!tile) {
        tile = document.createElement('section');
        tile.className = 'ov-tile';
        tile.dataset.station = st.id;
        tile.innerHTML = tileHtml(st);
        const img = $('.ov-image', tile);
        img.onerror = () => tile.classList.add('no-image');
        img.onload = () => tile.classList.remove('no-image');
        grid.append(tile);
        tiles.set(st.id, tile);
      }
      const v = st.verdict;
      const badge = $('[data-verdict]', tile);
      setTerm(badge, 'verdict', v.show);
      badge.className = `ov-verdict ${VERDICT_CLASS[v.show]}`;
      tile.dataset.verdict = v.show;
      $('.ov-why', tile).innerHTML = whyHtml(st, VERDICT_CLASS[v.show] === 'nv');
      $('.ov-product', tile).textContent = st.product.id === null ? t('overview.noProduct') : t('overview.product', { name: st.product.name, recipe: st.product.recipeId });
      const img = $('.ov-image', tile);
      if (!st.image) tile.classList.add('no-image');
      else if (img.dataset.src !== st.image.url) {
        img.dataset.src = st.image.url;
        img.src = st.image.url;
      }
      const s = st.shift;
      const reasons = Object.entries(s.reasons).map(([r, n]) => `${term('reason', r).name}: ${n}`).join(', ');
      $('.ov-counts', tile).innerHTML = `
        <div class="ov-n ok"><dt>${esc(term('verdict', 'OK').name)}</dt><dd data-count="ok">${s.ok}</dd></div>
        <div class="ov-n ng"><dt>${esc(term('verdict', 'NG').name)}</dt><dd data-count="ng">${s.ng}</dd></div>
        <div class="ov-n nv"><dt>${esc(t('overview.count.notInspected'))}</dt><dd data-count="notInspected" title="${esc(reasons)}">${s.notInspected}</dd></div>
        <div class="ov-n"><dt>${esc(t('overview.count.yield'))}</dt><dd data-count="yield">${s.yieldPct === null ? '–' : `${fmt(s.yieldPct, 1)} %`}</dd></div>
        <div class="ov-since">${esc(t('overview.since', { time: time(s.startedAt) }))} · ${s.cause === 'first-start' ? termHtml('shiftCause', s.cause) : `${termHtml('shiftCause', s.cause)} (${esc(s.startedBy)})`}</div>`;
      const cam = $('.ov-camera', tile);
      cam.innerHTML = `${esc(t('overview.camera'))} ${termHtml('camera', st.camera.state)}${st.camera.detail ? ` <span class="ov-camera-detail">${esc(st.camera.detail)}</span>` : ''}`;
      cam.className = `ov-camera ${st.camera.online ? 'online' : 'offline'}`;
    }
    for (const [id, tile] of tiles) if (!view.stations.some((s) => s.id === id)) (tile.remove(), tiles.delete(id));
  };

  // A page replaced while its request was out must not draw into the new page's grid (same ids).
  const tick = async () => {
    if (!current()) return;
    const view = await api('GET', '/api/overview');
    if (current()) render(view);
  };

  page.addEventListener('click', async (ev) => {
    const button = ev.target.closest('[data-reset]');
    if (!button) return;
    const st = last?.stations.find((s) => s.id === button.dataset.reset);
    if (!st || !(await confirmReset(st))) return;
    try {
      await api('POST', `/api/stations/${encodeURIComponent(st.id)}/counters/reset`, {});
      toast(t('overview.reset.done', { station: st.id }));
      await tick();
    } catch (err) {
      toast(err.message, true);
    }
  });

  await banner();
  await tick();
  every(1000, tick, current);
}
