// Products: recipes, their normal shots and activation on a station.
import { $, esc, fmt, toast, api, banner, rerender } from './core.js';

export async function products(page, current) {
  const [info, list, stations] = await Promise.all([banner(), api('GET', '/api/products'), api('GET', '/api/stations')]);
  if (!current()) return;
  const stationOptions = stations.map((s) => `<option value="${esc(s.id)}">${esc(s.id)}</option>`).join('');
  page.innerHTML = `<div class="card"><h2>New product</h2>
    <form class="inline" id="create">
      <label>Name <input name="name" required maxlength="64"></label>
      <label>Recipe id (PLC) <input name="recipeId" type="number" min="1" placeholder="auto"></label>
      <label>Threshold override <input name="threshold" type="number" min="0" max="1" step="0.01" placeholder="calibrated"></label>
      <button class="primary" type="submit">Create</button>
    </form>${info.writable ? '' : '<div class="note">Writes are disabled on this agent (no http.token configured).</div>'}</div>
    <div id="plist"></div>`;
  $('#create').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = { name: f.get('name') };
    if (f.get('recipeId')) body.recipeId = Number(f.get('recipeId'));
    if (f.get('threshold')) body.threshold = Number(f.get('threshold'));
    try {
      const p = await api('POST', '/api/products', body);
      toast(`created ${p.name} (recipe ${p.recipeId})`);
      rerender();
    } catch (err) { toast(err.message, true); }
  });
  for (const p of list) {
    const card = document.createElement('div');
    card.className = 'card product';
    card.dataset.product = p.id;
    card.style.marginTop = '12px';
    $('#plist').append(card);
    await renderProduct(card, p, stationOptions);
  }
}

async function renderProduct(card, p, stationOptions) {
  const { shots, note } = await api('GET', `/api/products/${p.id}/shots`);
  card.innerHTML = `<h2>${esc(p.name)} · recipe ${p.recipeId} ${p.activeOn.length ? `<span class="ok">active on ${esc(p.activeOn.join(', '))}</span>` : ''}</h2>
    ${shots.length ? '' : '<div class="note zero-shot">No normal shots: this product runs zero-shot.</div>'}
    ${note ? `<div class="note">${esc(note)}</div>` : ''}
    <div class="shots">${shots.map((s) => `<div class="shot" data-shot="${s.id}"><img src="${s.imageUrl}" alt="shot ${s.id}">
      <div>#${s.id} · ${esc(s.source)} · LOO ${fmt(s.looScore)}</div><button data-del="${s.id}">Delete</button></div>`).join('')}</div>
    <form class="inline">
      <label>Station <select name="station">${stationOptions}</select></label>
      <button type="button" data-act="capture">Capture shot</button>
      <label>Upload <input type="file" accept="image/*" data-act="upload"></label>
      <button type="button" data-act="activate" class="primary">Activate</button>
      <label>Threshold <input name="threshold" type="number" min="0" max="1" step="0.01" value="${p.threshold ?? ''}" placeholder="calibrated"></label>
      <button type="button" data-act="threshold">Set</button>
      <button type="button" data-act="delete">Delete product</button>
    </form>`;
  const station = () => $('select[name=station]', card).value;
  const refresh = async () => renderProduct(card, (await api('GET', '/api/products')).find((x) => x.id === p.id) ?? p, stationOptions);
  const act = async (fn, ok) => {
    try {
      const r = await fn();
      toast(ok(r));
      await refresh();
    } catch (err) { toast(err.message, true); }
  };
  $('[data-act=capture]', card).onclick = () => act(() => api('POST', `/api/products/${p.id}/shots/capture`, { station: station() }), (r) => `shot #${r.shot.id} captured`);
  $('[data-act=upload]', card).onchange = (e) => {
    const file = e.target.files[0];
    if (file) act(() => api('POST', `/api/products/${p.id}/shots`, file, file.type || 'application/octet-stream'), (r) => `shot #${r.shot.id} uploaded`);
  };
  $('[data-act=activate]', card).onclick = () => act(() => api('POST', `/api/stations/${encodeURIComponent(station())}/activate`, { productId: p.id }), (r) => `${p.name} active on ${r.stationId}: ${r.mode}, ref v${r.referenceVersion}, ${r.ms.toFixed(1)} ms`);
  $('[data-act=threshold]', card).onclick = () => {
    const v = $('input[name=threshold]', card).value;
    act(() => api('PATCH', `/api/products/${p.id}`, { threshold: v === '' ? null : Number(v) }), () => 'threshold saved');
  };
  $('[data-act=delete]', card).onclick = () => act(() => api('DELETE', `/api/products/${p.id}`), () => 'deleted').then(() => rerender());
  card.querySelectorAll('[data-del]').forEach((b) => (b.onclick = () => act(() => api('DELETE', `/api/shots/${b.dataset.del}`), () => 'shot deleted')));
}

// ---- History ----
