// Guided shot capture for one product: a live preview of the chosen station, Freeze (or Take picture on a
// software-triggered camera), uploads of several files (picker or drag-and-drop). Each frame or file becomes a
// candidate judged against the product's current shots, shown with its score and heat map, kept or discarded.
import { $, esc, fmt, toast, api } from './core.js';

const PREVIEW_MS = 300;

/** Mounts the panel in `el`. `station()` is the station chosen on the card, `onKept()` refreshes the product's shots. */
export function mountCapture(el, { product, station, stationInfo, onKept }) {
  el.className = 'capture';
  el.innerHTML = `<h3>Add good shots</h3>
    <div class="capture-row">
      <div class="preview-box">
        <div class="preview-frame"><img class="preview" alt="live preview" hidden><span class="preview-empty">Live preview is off</span></div>
        <div class="preview-note note" hidden></div>
        <div class="capture-buttons">
          <button type="button" data-cap="live">Show live camera</button>
          <button type="button" data-cap="picture" hidden>Take picture</button>
          <button type="button" data-cap="freeze" class="primary">Freeze</button>
        </div>
      </div>
      <label class="dropzone" tabindex="0">Drop image files here, or&nbsp;<u>choose files</u>
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
    note.textContent = software ? `Camera ${st.cameraId} is software-triggered: it shows a new frame only when asked. Press "Take picture", then Freeze.` : '';
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
    $('.preview-empty', el).textContent = 'No frame from this camera yet';
    setTimeout(nextFrame, 1000);
  };
  $('[data-cap=live]', el).onclick = (e) => {
    live = !live;
    e.target.textContent = live ? 'Stop live camera' : 'Show live camera';
    describe();
    if (live) nextFrame();
  };
  $('[data-cap=picture]', el).onclick = async () => {
    try {
      await api('POST', `/api/stations/${encodeURIComponent(station())}/trigger`, { partId: 'shot-capture' });
      setTimeout(() => { if (!live) { live = true; $('[data-cap=live]', el).textContent = 'Stop live camera'; } nextFrame(); }, 150);
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
      slot.textContent = `judging ${file.name}…`;
      list.prepend(slot);
      try {
        const c = await api('POST', `/api/products/${product.id}/candidates/upload`, file, file.type || 'application/octet-stream');
        slot.replaceWith(card(c, file.name));
      } catch (err) {
        slot.className = 'candidate refused';
        slot.textContent = `${file.name}: ${err.message}`;
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
    div.innerHTML = `<img src="${esc(c.overlayUrl)}" alt="candidate heat map">
      <div><span class="chip ${c.verdict}">${c.verdict === 'fail' ? 'looks defective' : 'looks good'}</span>
        score ${fmt(c.score)} · threshold ${fmt(c.threshold)} · ${esc(c.mode)}${c.shots ? ` (${c.shots} shot${c.shots > 1 ? 's' : ''})` : ''}</div>
      <div class="summary">${esc(c.summary)}</div>
      <div class="cap-small">${esc(name ?? c.source)} · expires in ${mins} min unless kept</div>
      <button type="button" class="primary" data-keep>Keep as good shot</button> <button type="button" data-discard>Discard</button>`;
    $('[data-keep]', div).onclick = async () => {
      try {
        const r = await api('POST', `/api/candidates/${c.id}/keep`);
        div.remove();
        toast(`shot #${r.shot.id} kept: reference set v${r.referenceSet.version}`);
        await onKept();
      } catch (err) { toast(err.message, true); }
    };
    $('[data-discard]', div).onclick = async () => {
      try {
        await api('DELETE', `/api/candidates/${c.id}`);
        div.remove();
        toast('candidate discarded');
      } catch (err) { toast(err.message, true); }
    };
    return div;
  };
  const show = (c, first) => (first ? list.prepend(card(c)) : list.append(card(c)));

  // Candidates still held (the page was left and came back): shown again.
  api('GET', `/api/products/${product.id}/candidates`).then((held) => held.reverse().forEach((c) => show(c, true))).catch(() => {});
  return { stationChanged: describe };
}
