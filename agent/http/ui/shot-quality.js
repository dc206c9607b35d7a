// Shot-quality advice and reference sets on a product card: each shot's leave-one-out score in words, a warning with
// the overlay for a shot that looks unlike the others, the versioned sets with Restore, and an activation that asks
// for confirmation while shots are flagged.
import { $, esc, fmt, toast, api, lang, t } from './core.js';

/** An in-page dialog (it shows in screenshots, unlike window.confirm). Resolves true on OK. */
export function confirmDialog(title, html, okLabel) {
  return new Promise((resolve) => {
    const back = document.createElement('div');
    back.className = 'dialog-back';
    back.innerHTML = `<div class="dialog" role="dialog" aria-modal="true" aria-label="${esc(title)}"><h3>${esc(title)}</h3>${html}
      <div class="dialog-buttons"><button type="button" data-dialog="cancel">${esc(t('common.cancel'))}</button> <button type="button" class="primary" data-dialog="ok">${esc(okLabel)}</button></div></div>`;
    const done = (v) => { back.remove(); resolve(v); };
    $('[data-dialog=ok]', back).onclick = () => done(true);
    $('[data-dialog=cancel]', back).onclick = () => done(false);
    document.body.append(back);
  });
}

/** The shots with their scores in words; flagged ones with the warning and a toggle to the overlay of where. */
export function shotsHtml(shots, advice) {
  const byId = new Map((advice?.shots ?? []).map((a) => [a.shotId, a]));
  return shots.map((s) => {
    const a = byId.get(s.id);
    const warn = a?.flagged ? `<div class="shot-warning" title="${esc(advice.rule)}">⚠ ${esc(t('shots.unlike', { reasons: a.reasons.join('; ') }))}
      ${a.overlayUrl ? `<button type="button" data-where="${s.id}">${esc(t('shots.showWhere'))}</button>` : ''}</div>` : '';
    return `<div class="shot${a?.flagged ? ' flagged' : ''}" data-shot="${s.id}">
      <img src="${s.imageUrl}" data-image="${esc(s.imageUrl)}" data-overlay="${esc(a?.overlayUrl ?? '')}" alt="${esc(t('shots.alt', { id: s.id }))}">
      <div title="${esc(t('shots.unusualHelp'))}">${esc(t('shots.caption', { id: s.id, source: s.source, score: fmt(s.looScore) }))}</div>
      <div class="cap-small" title="${esc(advice?.explanation ?? '')}">${esc(a?.words ?? '')}</div>${warn}
      <button type="button" data-del="${s.id}">${esc(t('common.delete'))}</button></div>`;
  }).join('');
}

export function wireShots(el) {
  el.querySelectorAll('[data-where]').forEach((b) => (b.onclick = () => {
    const img = $(`[data-shot="${b.dataset.where}"] img`, el);
    const showing = img.src.includes('loo-overlay');
    img.src = showing ? img.dataset.image : img.dataset.overlay;
    b.textContent = t(showing ? 'shots.showWhere' : 'shots.showShot');
  }));
}

export function adviceHtml(advice) {
  if (!advice) return '';
  const n = advice.flagged.length;
  const flagged = n
    ? `<div class="note warn-box">⚠ ${esc(t(n > 1 ? 'shots.flaggedMany' : 'shots.flaggedOne', { n, ids: `#${advice.flagged.join(', #')}` }))}</div>`
    : '';
  return `<div class="advice cap-small">${esc(advice.explanation)} <details><summary>${esc(t('shots.whenFlagged'))}</summary>${esc(advice.rule)}</details></div>${flagged}`;
}

export function setsHtml(sets) {
  if (!sets.length) return `<details class="reference-sets"><summary>${esc(t('sets.none'))}</summary></details>`;
  const cur = sets.find((s) => s.current);
  const rows = sets.map((s) => `<tr data-set="${s.version}"><td>${esc(t('common.referenceSet', { version: s.version }))}${s.current ? ` <span class="ok">${esc(t('sets.inUse'))}</span>` : ''}</td>
    <td>${esc(s.detail)}</td><td>${esc(s.createdBy)}</td><td>${new Date(s.createdAt).toLocaleString(lang)}</td>
    <td>${s.shotIds.length ? s.shotIds.map((id) => `<img class="thumb" src="/api/shots/${id}/image.png" alt="${esc(t('shots.alt', { id }))}" title="#${id}">`).join('') : `<em>${esc(t('sets.noShots'))}</em>`}</td>
    <td>${s.current ? '' : `<button type="button" data-restore="${s.version}">${esc(t('sets.restore'))}</button>`}</td></tr>`).join('');
  return `<details class="reference-sets"><summary>${esc(t('sets.summary', { version: cur?.version ?? '–', n: cur?.shotIds.length ?? 0, count: sets.length }))}</summary>
    <table><tr><th>${esc(t('sets.col.set'))}</th><th>${esc(t('sets.col.change'))}</th><th>${esc(t('sets.col.who'))}</th><th>${esc(t('sets.col.when'))}</th><th>${esc(t('sets.col.shots'))}</th><th></th></tr>${rows}</table></details>`;
}

export function wireSets(el, product, sets, after) {
  el.querySelectorAll('[data-restore]').forEach((b) => (b.onclick = async () => {
    const set = sets.find((s) => s.version === Number(b.dataset.restore));
    const ok = await confirmDialog(t('sets.restoreTitle', { version: set.version }),
      `<p>${esc(t('sets.restoreBody', { name: product.name, shots: set.shotIds.length ? `#${set.shotIds.join(', #')}` : t('sets.noShots') }))}</p>`, t('sets.restore'));
    if (!ok) return;
    try {
      const r = await api('POST', `/api/products/${product.id}/reference-sets/${set.version}/restore`);
      toast(t('sets.restored', { version: set.version, next: r.referenceSet.version }));
      await after();
    } catch (err) { toast(err.message, true); }
  }));
}

/** Activation from the UI: asks first while shots are flagged (the API would answer 409 without the acknowledgement). */
export async function activate(product, stationId, advice) {
  const post = (ack) => api('POST', `/api/stations/${encodeURIComponent(stationId)}/activate`, ack ? { productId: product.id, acknowledgeFlaggedShots: true } : { productId: product.id });
  const ask = (why) => confirmDialog(t('activate.flaggedTitle', { name: product.name }), `<p class="bad">${esc(why)}</p><p>${esc(t('activate.flaggedBody', { station: stationId }))}</p>`, t('activate.anyway'));
  if (advice?.flagged.length && !(await ask(t(advice.flagged.length > 1 ? 'activate.flaggedMany' : 'activate.flaggedOne', { ids: `#${advice.flagged.join(', #')}` })))) return null;
  // A changeover away from another running product asks first (logins and roles).
  const running = advice?.flagged.length ? null : (await api('GET', '/api/stations')).find((s) => s.id === stationId)?.reference;
  if (running?.productId && running.productId !== product.id && !(await confirmDialog(t('activate.changeTitle', { name: product.name, station: stationId }),
    `<p>${esc(t(product.shotCount === 1 ? 'activate.changeBodyOne' : 'activate.changeBody', { station: stationId, from: running.productName, name: product.name, n: product.shotCount }))}</p>`, t('products.activate')))) return null;
  try {
    return await post(Boolean(advice?.flagged.length));
  } catch (err) {
    // Flagged since this page was drawn: the server's reason, then the same question.
    if (!/flagged shot/.test(err.message)) throw err;
    return (await ask(err.message)) ? post(true) : null;
  }
}
