// Inspection region editor for one product: on a frozen camera frame, drag a rectangle for the region, click points
// for an ignore area (double-click closes it), set the minimum defect area, Save → PUT /api/products/:id/region.
// The saved region is drawn over the frame: outline for the region, hatched ignore areas.
import { $, esc, toast, api, t } from './core.js';

/** Mounts the editor after the card's capture panel. `station()` is the station chosen on the card. */
export function mountRegion(card, { product, station }) {
  const el = document.createElement('details');
  el.className = 'region-editor';
  el.dataset.region = String(product.id);
  el.innerHTML = `<summary>${esc(t('region.summary'))} <span data-region-summary class="muted"></span></summary>
    <p class="note">${esc(t('region.help'))}</p>
    <div class="region-buttons">
      <button type="button" data-region-act="freeze">${esc(t('region.freeze'))}</button>
      <button type="button" data-region-act="rect" aria-pressed="true">${esc(t('region.draw'))}</button>
      <button type="button" data-region-act="poly" aria-pressed="false">${esc(t('region.ignore'))}</button>
      <button type="button" data-region-act="clear">${esc(t('region.clear'))}</button>
      <label>${esc(t('region.minArea'))} <input type="number" min="0" step="1" name="minArea" placeholder="${esc(t('region.none'))}"> px</label>
      <button type="button" data-region-act="save" class="primary">${esc(t('region.save'))}</button>
    </div>
    <div class="region-stage"><canvas data-region-canvas hidden aria-label="${esc(t('region.canvasLabel'))}"></canvas><span class="region-empty">${esc(t('region.noFrame'))}</span></div>`;
  const after = $('[data-capture]', card);
  after ? after.after(el) : card.append(el);
  const canvas = $('canvas', el);
  const ctx = canvas.getContext('2d');
  const frame = new Image();
  let mode = 'rect';
  let roi = null;
  let ignore = [];
  let open = []; // the ignore area being clicked
  let drag = null;

  const setMode = (m) => {
    mode = m;
    $('[data-region-act=rect]', el).setAttribute('aria-pressed', String(m === 'rect'));
    $('[data-region-act=poly]', el).setAttribute('aria-pressed', String(m === 'poly'));
  };
  const summary = () => {
    const parts = [roi ? t('region.rect', { w: roi.width, h: roi.height, x: roi.x, y: roi.y }) : t('region.wholeFrame')];
    if (ignore.length) parts.push(t(ignore.length > 1 ? 'region.ignoreMany' : 'region.ignoreOne', { n: ignore.length }));
    const min = $('input[name=minArea]', el).value;
    if (min !== '') parts.push(t('region.minAreaValue', { n: min }));
    $('[data-region-summary]', el).textContent = `· ${parts.join(', ')}`;
  };
  const path = (points) => {
    ctx.beginPath();
    points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
  };
  const draw = () => {
    summary();
    if (!frame.naturalWidth) return;
    const u = Math.max(1, canvas.width / 400);
    ctx.drawImage(frame, 0, 0);
    if (roi) {
      // Outside the region dimmed, the region outlined.
      ctx.fillStyle = 'rgba(0,0,0,0.45)';
      ctx.beginPath();
      ctx.rect(0, 0, canvas.width, canvas.height);
      ctx.rect(roi.x + roi.width, roi.y, -roi.width, roi.height);
      ctx.fill('evenodd');
      ctx.strokeStyle = '#ffd600';
      ctx.lineWidth = 2 * u;
      ctx.strokeRect(roi.x, roi.y, roi.width, roi.height);
    }
    for (const poly of ignore) {
      path(poly);
      ctx.closePath();
      ctx.fillStyle = 'rgba(0,0,0,0.45)';
      ctx.fill();
      ctx.save();
      ctx.clip();
      ctx.strokeStyle = 'rgba(255,255,255,0.6)';
      ctx.lineWidth = u;
      for (let d = -canvas.height; d < canvas.width; d += 8 * u) { ctx.beginPath(); ctx.moveTo(d, canvas.height); ctx.lineTo(d + canvas.height, 0); ctx.stroke(); }
      ctx.restore();
    }
    if (open.length) {
      path(open);
      ctx.strokeStyle = '#ff4d4d';
      ctx.lineWidth = 2 * u;
      ctx.stroke();
      for (const [x, y] of open) ctx.fillRect(x - 2 * u, y - 2 * u, 4 * u, 4 * u);
    }
  };
  /** The pointer in frame pixels (the canvas is the frame's size, scaled by CSS). */
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    const x = Math.round(((e.clientX - r.left) * canvas.width) / r.width);
    const y = Math.round(((e.clientY - r.top) * canvas.height) / r.height);
    return [Math.min(canvas.width, Math.max(0, x)), Math.min(canvas.height, Math.max(0, y))];
  };

  canvas.addEventListener('mousedown', (e) => { if (mode === 'rect') drag = at(e); });
  canvas.addEventListener('mousemove', (e) => {
    if (mode !== 'rect' || !drag) return;
    const [x, y] = at(e);
    const x0 = Math.min(drag[0], x), y0 = Math.min(drag[1], y);
    roi = { x: x0, y: y0, width: Math.max(1, Math.abs(x - drag[0])), height: Math.max(1, Math.abs(y - drag[1])) };
    roi.width = Math.min(roi.width, canvas.width - roi.x);
    roi.height = Math.min(roi.height, canvas.height - roi.y);
    draw();
  });
  window.addEventListener('mouseup', () => { drag = null; });
  canvas.addEventListener('click', (e) => {
    if (mode !== 'poly') return;
    const p = at(e);
    const last = open.at(-1);
    if (!last || last[0] !== p[0] || last[1] !== p[1]) open.push(p); // the second click of a double-click adds nothing
    draw();
  });
  canvas.addEventListener('dblclick', () => {
    if (mode !== 'poly') return;
    if (open.length >= 3) ignore.push(open);
    else toast(t('region.needPoints'), true);
    open = [];
    draw();
  });
  $('input[name=minArea]', el).oninput = summary;

  const freeze = async () => {
    const res = await fetch(`/api/stations/${encodeURIComponent(station())}/preview.jpg?t=${Date.now()}`);
    if (!res.ok) throw new Error(t('region.noFrameFrom', { station: station() }));
    const url = URL.createObjectURL(await res.blob());
    await new Promise((resolve, reject) => { frame.onload = resolve; frame.onerror = () => reject(new Error(t('region.frameBroken'))); frame.src = url; });
    canvas.width = frame.naturalWidth;
    canvas.height = frame.naturalHeight;
    canvas.hidden = false;
    $('.region-empty', el).hidden = true;
    draw();
  };
  $('[data-region-act=freeze]', el).onclick = () => freeze().catch((err) => toast(err.message, true));
  $('[data-region-act=rect]', el).onclick = () => setMode('rect');
  $('[data-region-act=poly]', el).onclick = () => { setMode('poly'); open = []; };
  $('[data-region-act=clear]', el).onclick = () => { roi = null; ignore = []; open = []; $('input[name=minArea]', el).value = ''; draw(); };
  $('[data-region-act=save]', el).onclick = async () => {
    const min = $('input[name=minArea]', el).value;
    try {
      const saved = await api('PUT', `/api/products/${product.id}/region`, { roi, ignore, minAreaPx: min === '' ? null : Number(min), stationId: station() });
      show(saved.region);
      toast(t('region.saved', { version: saved.referenceSet, sources: saved.checkedAgainst.map((c) => c.source).join(', ') || t('region.noFrameYet') }));
    } catch (err) { toast(err.message, true); }
  };
  const show = (region) => {
    roi = region?.roi ?? null;
    ignore = region?.ignore ?? [];
    $('input[name=minArea]', el).value = region?.minAreaPx ?? '';
    draw();
  };
  api('GET', `/api/products/${product.id}/region`).then((r) => show(r.region)).catch((err) => toast(err.message, true));
  return { el };
}
