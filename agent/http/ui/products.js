// Products: recipes, their normal shots (with the shot-quality advice), guided capture, reference sets, activation.
import { $, esc, toast, api, banner, rerender, t, term } from './core.js';
import { mountCapture } from './capture.js';
import { activate, adviceHtml, confirmDialog, setsHtml, shotsHtml, wireSets, wireShots } from './shot-quality.js';

export async function products(page, current) {
  const [info, list, stations] = await Promise.all([banner(), api('GET', '/api/products'), api('GET', '/api/stations')]);
  if (!current()) return;
  page.innerHTML = `<div class="card"><h2>${esc(t('products.new'))}</h2>
    <form class="inline" id="create">
      <label>${esc(t('products.name'))} <input name="name" required maxlength="64"></label>
      <label>${esc(t('products.recipeId'))} <input name="recipeId" type="number" min="1" placeholder="${esc(t('products.recipeAuto'))}"></label>
      <label>${esc(t('products.thresholdOverride'))} <input name="threshold" type="number" min="0" max="1" step="0.01" placeholder="${esc(t('products.calibrated'))}"></label>
      <button class="primary" type="submit">${esc(t('products.create'))}</button>
    </form>${info.writable ? '' : `<div class="note">${esc(t('products.readOnly'))}</div>`}</div>
    <div id="plist"></div>`;
  $('#create').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = { name: f.get('name') };
    if (f.get('recipeId')) body.recipeId = Number(f.get('recipeId'));
    if (f.get('threshold')) body.threshold = Number(f.get('threshold'));
    try {
      const p = await api('POST', '/api/products', body);
      toast(t('products.created', { name: p.name, recipe: p.recipeId }));
      rerender();
    } catch (err) { toast(err.message, true); }
  });
  for (const p of list) {
    const card = document.createElement('div');
    card.className = 'card product';
    card.dataset.product = p.id;
    card.style.marginTop = '12px';
    $('#plist').append(card);
    await renderProduct(card, p, stations);
  }
}

/** The card's frame once (the capture panel keeps its preview and candidates); its shot sections refresh in place. */
async function renderProduct(card, p, stations) {
  card.innerHTML = `<h2 data-title></h2>
    <div data-advice></div>
    <div class="shots" data-shots></div>
    <form class="inline">
      <label>${esc(t('products.station'))} <select name="station">${stations.map((s) => `<option value="${esc(s.id)}">${esc(s.id)}</option>`).join('')}</select></label>
      <button type="button" data-act="activate" class="primary">${esc(t('products.activate'))}</button>
      <label>${esc(t('products.threshold'))} <input name="threshold" type="number" min="0" max="1" step="0.01" value="${p.threshold ?? ''}" placeholder="${esc(t('products.calibrated'))}"></label>
      <button type="button" data-act="threshold">${esc(t('products.set'))}</button>
      <button type="button" data-act="delete">${esc(t('products.delete'))}</button>
    </form>
    <div data-capture></div>
    <div data-sets></div>
    <div data-threshold-workbench="${p.id}"></div>`;
  const station = () => $('select[name=station]', card).value;
  let product = p;
  let advice = null;

  const refresh = async () => {
    product = (await api('GET', '/api/products')).find((x) => x.id === p.id) ?? product;
    const [{ shots, note }, sets] = await Promise.all([api('GET', `/api/products/${p.id}/shots`), api('GET', `/api/products/${p.id}/reference-sets`)]);
    // Without the advice a defective shot would pass unflagged: say so, and ask again while the card is on screen.
    let adviceError = '';
    advice = await api('GET', `/api/products/${p.id}/shot-advice`).catch((err) => ((adviceError = err.message), null));
    if (adviceError) setTimeout(() => card.isConnected && refresh().catch((e) => toast(e.message, true)), 2000);
    $('[data-title]', card).innerHTML = `${esc(t('products.title', { name: product.name, recipe: product.recipeId }))} ${product.activeOn.length ? `<span class="ok">${esc(t('products.activeOn', { stations: product.activeOn.join(', ') }))}</span>` : ''}`;
    $('[data-advice]', card).innerHTML = `${shots.length ? '' : `<div class="note zero-shot">${esc(t('products.noShots'))}</div>`}
      ${note ? `<div class="note">${esc(note)}</div>` : ''}${shots.length ? adviceHtml(advice) : ''}
      ${adviceError && shots.length ? `<div class="note warn-box" data-advice-missing>${esc(t('products.adviceMissing', { error: adviceError }))}</div>` : ''}`;
    const shotsEl = $('[data-shots]', card);
    shotsEl.innerHTML = shotsHtml(shots, advice);
    wireShots(shotsEl);
    shotsEl.querySelectorAll('[data-del]').forEach((b) => (b.onclick = () => act(async () => (await confirmDialog(t('products.deleteShot.title', { id: b.dataset.del, name: product.name }),
      `<p>${esc(product.activeOn.length ? t('products.deleteShot.bodyActive', { stations: product.activeOn.join(', ') }) : t('products.deleteShot.body'))}</p>`, t('products.deleteShot.ok'))) ? api('DELETE', `/api/shots/${b.dataset.del}`) : null, () => t('products.deleteShot.done'))));
    const setsEl = $('[data-sets]', card);
    const open = $('details', setsEl)?.open;
    setsEl.innerHTML = setsHtml(sets);
    if (open) $('details', setsEl).open = true;
    wireSets(setsEl, product, sets, refresh);
  };
  const act = async (fn, ok) => {
    try {
      const r = await fn();
      if (r === null) return; // the operator cancelled
      toast(ok(r));
      await refresh();
    } catch (err) { toast(err.message, true); }
  };

  await refresh();
  const capture = mountCapture($('[data-capture]', card), { product: p, station, stationInfo: (id) => stations.find((s) => s.id === id), onKept: refresh });
  $('select[name=station]', card).onchange = () => capture.stationChanged();
  import('./region.js').then((m) => m.mountRegion(card, { product: p, station })).catch((err) => toast(err.message, true)); // ---- inspection region editor (agent/http/ui/region.js) ----
  $('[data-act=activate]', card).onclick = () => act(() => activate(product, station(), advice), (r) => t('products.activated', { name: product.name, station: r.stationId, mode: term('mode', r.mode).name, version: r.referenceVersion, ms: r.ms.toFixed(1) }));
  $('[data-act=threshold]', card).onclick = () => {
    const v = $('input[name=threshold]', card).value;
    act(() => api('PATCH', `/api/products/${p.id}`, { threshold: v === '' ? null : Number(v) }), () => t('products.thresholdSaved'));
  };
  $('[data-act=delete]', card).onclick = () => act(async () => (await confirmDialog(t(product.shotCount === 1 ? 'products.deleteProduct.titleOne' : 'products.deleteProduct.title', { name: product.name, n: product.shotCount }),
    `<p>${esc(t('products.deleteProduct.body', { stations: product.activeOn.length ? product.activeOn.join(', ') : t('products.deleteProduct.noStations') }))}</p>`, t('products.delete'))) ? api('DELETE', `/api/products/${p.id}`) : null, () => t('products.deleted')).then(() => rerender());
  // The threshold workbench (agent/http/ui/threshold.js, another module) mounts itself here when it exists.
  import('./threshold.js').then((m) => m.mountThresholdWorkbench?.($('[data-threshold-workbench]', card), p)).catch(() => {});
}
