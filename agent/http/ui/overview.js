// Overview: the line at a glance, for a screen beside the line (read from two metres) or a 10" touch panel. One
// tile per station: OK / NG / NO VERDICT in big letters (with its plain reason), product, last part with outlines,
// the current shift's counts and yield, camera state, and "New shift" (with a confirmation). Polls GET /api/overview.
import { $, esc, toast, api, banner, every } from './core.js';

const VERDICT_CLASS = { OK: 'ok', NG: 'ng', 'NO VERDICT': 'nv' };
const time = (ms) => new Date(ms).toLocaleString([], { weekday: 'short', hour: '2-digit', minute: '2-digit' });

/** A confirmation with large buttons (touch); resolves true on confirm. */
function confirmReset(st) {
  return new Promise((resolve) => {
    const s = st.shift;
    const back = document.createElement('div');
    back.className = 'dialog-back ov-dialog';
    back.innerHTML = `<div class="dialog" role="dialog" aria-modal="true" aria-label="New shift on ${esc(st.id)}">
      <h3>Start a new shift on ${esc(st.id)}?</h3>
      <p>The counts (OK ${s.ok}, NG ${s.ng}, not inspected ${s.notInspected}) start again from 0, on the PLC's counters too.
      The shift that ends is kept in the audit log.</p>
      <div class="dialog-buttons"><button type="button" data-dialog="cancel">Cancel</button>
      <button type="button" class="primary" data-dialog="ok">New shift</button></div></div>`;
    const done = (v) => { back.remove(); resolve(v); };
    $('[data-dialog=ok]', back).onclick = () => done(true);
    $('[data-dialog=cancel]', back).onclick = () => done(false);
    document.body.append(back);
    $('[data-dialog=cancel]', back).focus();
  });
}

function tileHtml(st) {
  return `<div class="ov-head"><span class="ov-station">${esc(st.id)}</span><span class="ov-product"></span></div>
    <div class="ov-verdict" data-verdict></div>
    <div class="ov-why"></div>
    <div class="ov-body">
      <figure class="ov-figure"><img class="ov-image" alt="last part of ${esc(st.id)} with defect outlines"><figcaption class="ov-nofig">no image of the last part</figcaption></figure>
      <dl class="ov-counts"></dl>
    </div>
    <div class="ov-foot"><span class="ov-camera"></span>
      <button type="button" class="ov-reset" data-reset="${esc(st.id)}">New shift / reset counters</button></div>`;
}

export async function overview(page, current) {
  page.innerHTML = '<div class="ov-grid" id="overview"></div>';
  const tiles = new Map();
  let last = null;

  const render = (view) => {
    last = view;
    const grid = $('#overview');
    if (!view.stations.length) grid.innerHTML = '<div class="card">No stations configured.</div>';
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
      badge.textContent = v.show;
      badge.className = `ov-verdict ${VERDICT_CLASS[v.show]}`;
      tile.dataset.verdict = v.show;
      $('.ov-why', tile).textContent = v.why;
      $('.ov-product', tile).textContent = st.product.id === null ? 'no product' : `${st.product.name} · recipe ${st.product.recipeId}`;
      const img = $('.ov-image', tile);
      if (!st.image) tile.classList.add('no-image');
      else if (img.dataset.src !== st.image.url) {
        img.dataset.src = st.image.url;
        img.src = st.image.url;
      }
      const s = st.shift;
      const reasons = Object.entries(s.reasons).map(([r, n]) => `${r.replace(/_/g, ' ')} ${n}`).join(', ');
      $('.ov-counts', tile).innerHTML = `
        <div class="ov-n ok"><dt>OK</dt><dd data-count="ok">${s.ok}</dd></div>
        <div class="ov-n ng"><dt>NG</dt><dd data-count="ng">${s.ng}</dd></div>
        <div class="ov-n nv"><dt>Not inspected</dt><dd data-count="notInspected" title="${esc(reasons)}">${s.notInspected}</dd></div>
        <div class="ov-n"><dt>Yield</dt><dd data-count="yield">${s.yieldPct === null ? '–' : `${s.yieldPct.toFixed(1)} %`}</dd></div>
        <div class="ov-since">Shift since ${esc(time(s.startedAt))} · ${esc(s.cause === 'first-start' ? 'first start' : s.startedBy)}</div>`;
      const cam = $('.ov-camera', tile);
      cam.textContent = `Camera ${st.camera.state}`;
      cam.className = `ov-camera ${st.camera.online ? 'online' : 'offline'}`;
      cam.title = st.camera.detail ?? '';
    }
    for (const [id, tile] of tiles) if (!view.stations.some((s) => s.id === id)) (tile.remove(), tiles.delete(id));
  };

  const tick = async () => {
    if (!current()) return;
    render(await api('GET', '/api/overview'));
  };

  page.addEventListener('click', async (ev) => {
    const button = ev.target.closest('[data-reset]');
    if (!button) return;
    const st = last?.stations.find((s) => s.id === button.dataset.reset);
    if (!st || !(await confirmReset(st))) return;
    try {
      await api('POST', `/api/stations/${encodeURIComponent(st.id)}/counters/reset`, {});
      toast(`New shift on ${st.id}: counters reset`);
      await tick();
    } catch (err) {
      toast(err.message, true);
    }
  });

  await banner();
  await tick();
  every(1000, tick);
}
