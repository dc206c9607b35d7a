// Shot-quality advice and reference sets on a product card: each shot's leave-one-out score in words, a warning with
// the overlay for a shot that looks unlike the others, the versioned sets with Restore, and an activation that asks
// for confirmation while shots are flagged.
import { $, esc, fmt, toast, api } from './core.js';

/** An in-page dialog (it shows in screenshots, unlike window.confirm). Resolves true on OK. */
export function confirmDialog(title, html, okLabel) {
  return new Promise((resolve) => {
    const back = document.createElement('div');
    back.className = 'dialog-back';
    back.innerHTML = `<div class="dialog" role="dialog" aria-modal="true" aria-label="${esc(title)}"><h3>${esc(title)}</h3>${html}
      <div class="dialog-buttons"><button type="button" data-dialog="cancel">Cancel</button> <button type="button" class="primary" data-dialog="ok">${esc(okLabel)}</button></div></div>`;
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
    const warn = a?.flagged ? `<div class="shot-warning" title="${esc(advice.rule)}">⚠ Looks unlike the other shots: ${esc(a.reasons.join('; '))}.
      ${a.overlayUrl ? `<button type="button" data-where="${s.id}">Show where</button>` : ''}</div>` : '';
    return `<div class="shot${a?.flagged ? ' flagged' : ''}" data-shot="${s.id}">
      <img src="${s.imageUrl}" data-image="${esc(s.imageUrl)}" data-overlay="${esc(a?.overlayUrl ?? '')}" alt="shot ${s.id}">
      <div>#${s.id} · ${esc(s.source)} · LOO ${fmt(s.looScore)}</div>
      <div class="cap-small" title="${esc(advice?.explanation ?? '')}">${esc(a?.words ?? '')}</div>${warn}
      <button type="button" data-del="${s.id}">Delete</button></div>`;
  }).join('');
}

export function wireShots(el) {
  el.querySelectorAll('[data-where]').forEach((b) => (b.onclick = () => {
    const img = $(`[data-shot="${b.dataset.where}"] img`, el);
    const showing = img.src.includes('loo-overlay');
    img.src = showing ? img.dataset.image : img.dataset.overlay;
    b.textContent = showing ? 'Show where' : 'Show the shot';
  }));
}

export function adviceHtml(advice) {
  if (!advice) return '';
  const flagged = advice.flagged.length
    ? `<div class="note warn-box">⚠ ${advice.flagged.length} shot${advice.flagged.length > 1 ? 's look' : ' looks'} unlike the others (#${advice.flagged.join(', #')}). A defective part kept as a good shot raises the threshold and hides defects: check ${advice.flagged.length > 1 ? 'them' : 'it'} and delete a bad one.</div>`
    : '';
  return `<div class="advice cap-small">${esc(advice.explanation)} <details><summary>When is a shot flagged?</summary>${esc(advice.rule)}</details></div>${flagged}`;
}

export function setsHtml(sets) {
  if (!sets.length) return '<details class="reference-sets"><summary>Reference sets: none yet (a set is made whenever shots change)</summary></details>';
  const cur = sets.find((s) => s.current);
  const rows = sets.map((s) => `<tr data-set="${s.version}"><td>v${s.version}${s.current ? ' <span class="ok">current</span>' : ''}</td>
    <td>${esc(s.detail)}</td><td>${esc(s.createdBy)}</td><td>${new Date(s.createdAt).toLocaleString()}</td>
    <td>${s.shotIds.length ? s.shotIds.map((id) => `<img class="thumb" src="/api/shots/${id}/image.png" alt="shot ${id}" title="#${id}">`).join('') : '<em>none</em>'}</td>
    <td>${s.current ? '' : `<button type="button" data-restore="${s.version}">Restore</button>`}</td></tr>`).join('');
  return `<details class="reference-sets"><summary>Reference sets: current v${cur?.version ?? '–'} (${cur?.shotIds.length ?? 0} shots) · ${sets.length} version${sets.length > 1 ? 's' : ''}</summary>
    <table><tr><th>Set</th><th>Change</th><th>Who</th><th>When</th><th>Shots</th><th></th></tr>${rows}</table></details>`;
}

export function wireSets(el, product, sets, after) {
  el.querySelectorAll('[data-restore]').forEach((b) => (b.onclick = async () => {
    const set = sets.find((s) => s.version === Number(b.dataset.restore));
    const ok = await confirmDialog(`Restore reference set v${set.version}?`,
      `<p>The shots of ${esc(product.name)} become ${set.shotIds.length ? `#${set.shotIds.join(', #')}` : 'none'} again, as a new set. Stations running it switch to this reference now.</p>`, 'Restore');
    if (!ok) return;
    try {
      const r = await api('POST', `/api/products/${product.id}/reference-sets/${set.version}/restore`);
      toast(`set v${set.version} restored as v${r.referenceSet.version}`);
      await after();
    } catch (err) { toast(err.message, true); }
  }));
}

/** Activation from the UI: asks first while shots are flagged (the API would answer 409 without the acknowledgement). */
export async function activate(product, stationId, advice) {
  const post = (ack) => api('POST', `/api/stations/${encodeURIComponent(stationId)}/activate`, ack ? { productId: product.id, acknowledgeFlaggedShots: true } : { productId: product.id });
  const ask = (why) => confirmDialog(`Activate ${product.name} with flagged shots?`, `<p class="bad">${esc(why)}</p><p>Parts on ${esc(stationId)} will be judged against these shots.</p>`, 'Activate anyway');
  if (advice?.flagged.length && !(await ask(`Shot${advice.flagged.length > 1 ? 's' : ''} #${advice.flagged.join(', #')} look${advice.flagged.length > 1 ? '' : 's'} unlike the other good shots.`))) return null;
  // A changeover away from another running product asks first (logins and roles).
  const running = advice?.flagged.length ? null : (await api('GET', '/api/stations')).find((s) => s.id === stationId)?.reference;
  if (running?.productId && running.productId !== product.id && !(await confirmDialog(`Activate ${product.name} on ${stationId}?`,
    `<p>${esc(stationId)} now runs ${esc(running.productName)}; from the next part on it judges against ${esc(product.name)} (${product.shotCount} shot${product.shotCount === 1 ? '' : 's'}).</p>`, 'Activate'))) return null;
  try {
    return await post(Boolean(advice?.flagged.length));
  } catch (err) {
    // Flagged since this page was drawn: the server's reason, then the same question.
    if (!/flagged shot/.test(err.message)) throw err;
    return (await ask(err.message)) ? post(true) : null;
  }
}
