// Guided shot capture for one product: a live preview of the chosen station, Freeze (or Take picture on a
// software-triggered camera), uploads of several files (picker or drag-and-drop). Each frame or file becomes a
// candidate judged against the product's current shots, shown with its score and heat map, kept or discarded.
import { $, esc, fmt, toast, api, t, termHtml } from './core.js';

const PREVIEW_MS = 300;

/** Mounts the panel in `el`. `station()` is the station chosen on the card, `onKept()` refreshes the product's shots. */
export function mountCapture(el, { product, station, stationInfo, onKept }) {
  el.className = 'capture';
  el.innerHTML = `<h3>${esc(t('capture.title'))}</h3>
    <div class="capture-row">
      <div class="preview-box">
        <div class="preview-frame"><img class="preview" alt="${esc(t('capture.previewAlt'))}" hidden><span class="preview-empty">${esc(t('capture.previewOff'))}</span></div>
        <div class="preview-note note" hidden></div>
        <div class="capture-buttons">
          <button type="button" data-cap="live">${esc(t('capture.showLive'))}</button>
          <button type="button" data-cap="picture" hidden>${esc(t('capture.takePicture'))}</button>
          <button type="button" data-cap="freeze" class="primary">${esc(t('capture.freeze'))}</button>
        </div>
      </div>
      <label class="dropzone" tabindex="0">${esc(t('capture.drop'))}&nbsp;<u>${esc(t('capture.choose'))}</u>
        <input type="file" accept="image/*" multiple data-cap="files" hidden></label>
    </div>
    <div class="candidates"></div>`;
  const img = $('img.preview', el);
  const note = $('.preview-note', el);
  const list = $('.candidates', el);
  let live = false;

  const describe = () => {
    const st = stationInfo(station());
    const software = st?.triggerMode === 'software';
    $('[data-cap=picture]', el).hidden = !software;
    note.hidden = !software;
    note.textContent = software ? t('capture.softwareNote', { camera: st.cameraId }) : '';
  };
  describe();

  // The preview asks for the next frame when the last one arrived (a few per second, never piling up).
  const nextFrame = () => {
    if (!live || !img.isConnected) return;
    img.src = `/api/stations/${encodeURIComponent(station())}/preview.jpg?t=${Date.now()}`;
  };
  img.onload = () => {
    img.hidden = false;
    $('.preview-empty', el).hidden = true;
    setTimeout(nextFrame, PREVIEW_MS);
  };
  img.onerror = () => {
    img.hidden = true;
    $('.preview-empty', el).hidden = false;
    $('.preview-empty', el).textContent = t('capture.noFrame');
    setTimeout(nextFrame, 1000);
  };
  $('[data-cap=live]', el).onclick = (e) => {
    live = !live;
    e.target.textContent = t(live ? 'capture.stopLive' : 'capture.showLive');
    describe();
    if (live) nextFrame();
  };
  $('[data-cap=picture]', el).onclick = async () => {
    try {
      await api('POST', `/api/stations/${encodeURIComponent(station())}/trigger`, { partId: 'shot-capture' });
      setTimeout(() => { if (!live) { live = true; $('[data-cap=live]', el).textContent = t('capture.stopLive'); } nextFrame(); }, 150);
    } catch (err) { toast(err.message, true); }
  };
  $('[data-cap=freeze]', el).onclick = async () => {
    try {
      show(await api('POST', `/api/products/${product.id}/candidates`, { station: station() }), true);
    } catch (err) { toast(err.message, true); }
  };

  const upload = async (files) => {
    for (const file of files) {
      const slot = document.createElement('div');
      slot.className = 'candidate pending';
      slot.textContent = t('capture.judging', { file: file.name });
      list.prepend(slot);
      try {
        const c = await api('POST', `/api/products/${product.id}/candidates/upload`, file, file.type || 'application/octet-stream');
        slot.replaceWith(card(c, file.name));
      } catch (err) {
        slot.className = 'candidate refused';
        slot.textContent = t('capture.refused', { file: file.name, error: err.message });
      }
    }
  };
  $('[data-cap=files]', el).onchange = (e) => {
    upload([...e.target.files]);
    e.target.value = '';
  };
  const zone = $('.dropzone', el);
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    upload([...e.dataTransfer.files]);
  });

  const card = (c, name) => {
    const div = document.createElement('div');
    div.className = `candidate ${c.verdict}`;
    div.dataset.candidate = c.id;
    const mins = Math.max(0, Math.round((c.expiresAt - Date.now()) / 60000));
    div.innerHTML = `<img src="${esc(c.overlayUrl)}" alt="${esc(t('capture.candidateAlt'))}">
      <div>${termHtml('candidate', c.verdict, `chip ${c.verdict}`)}
        ${esc(t('capture.scoreLine', { score: fmt(c.score), threshold: fmt(c.threshold) }))} · ${termHtml('mode', c.mode)}${c.shots ? esc(t(c.shots > 1 ? 'capture.shotsMany' : 'capture.shotsOne', { n: c.shots })) : ''}</div>
      <div class="summary">${esc(c.summary)}</div>
      <div class="cap-small">${esc(t('capture.expires', { source: name ?? c.source, mins }))}</div>
      <button type="button" class="primary" data-keep>${esc(t('capture.keep'))}</button> <button type="button" data-discard>${esc(t('capture.discard'))}</button>`;
    $('[data-keep]', div).onclick = async () => {
      try {
        const r = await api('POST', `/api/candidates/${c.id}/keep`);
        div.remove();
        toast(t('capture.kept', { id: r.shot.id, version: r.referenceSet.version }));
        await onKept();
      } catch (err) { toast(err.message, true); }
    };
    $('[data-discard]', div).onclick = async () => {
      try {
        await api('DELETE', `/api/candidates/${c.id}`);
        div.remove();
        toast(t('capture.discarded'));
      } catch (err) { toast(err.message, true); }
    };
    return div;
  };
  const show = (c, first) => (first ? list.prepend(card(c)) : list.append(card(c)));

  // Candidates still held (the page was left and came back): shown again.
  api('GET', `/api/products/${product.id}/candidates`).then((held) => held.reverse().forEach((c) => show(c, true))).catch(() => {});
  return { stationChanged: describe };
}
