// Live: every station with its latest verdict, frame and heat map.
import { $, esc, fmt, toast, api, banner, protocol, every, t, term, termHtml, setTerm } from './core.js';

export async function live(page, current) {
  page.innerHTML = '<div class="grid" id="stations"></div>';
  const cards = new Map();
  const tick = async () => {
    if (!current()) return;
    const stations = await api('GET', '/api/stations');
    if (!current()) return;
    if (!stations.length) $('#stations').innerHTML = `<div class="card">${esc(t('common.noStations'))}</div>`;
    for (const st of stations) {
      let card = cards.get(st.id);
      if (!card) {
        card = document.createElement('div');
        card.className = 'card station';
        card.dataset.station = st.id;
        card.innerHTML = `<h2>${esc(t('live.title', { station: st.id, camera: st.cameraId }))}</h2>
          <img class="live" alt="${esc(t('live.imageAlt'))}">
          <div><span class="verdict"></span> <label><input type="checkbox" class="raw"> ${esc(t('live.rawFrame'))}</label></div>
          <div class="mode-note"></div><dl class="kv"></dl>`;
        $('#stations').append(card);
        cards.set(st.id, card);
      }
      const v = st.latest;
      const verdict = $('.verdict', card);
      if (!v) {
        verdict.textContent = t('live.waiting');
        verdict.removeAttribute('data-term');
        verdict.title = '';
      } else if (v.outcome === protocol.outcomes.noVerdict && v.noVerdictReason) setTerm(verdict, 'reason', v.noVerdictReason);
      else setTerm(verdict, 'outcome', v.outcome);
      verdict.className = `verdict ${v?.outcome ?? ''}`;
      const raw = $('.raw', card).checked;
      const img = $('img.live', card);
      const heat = !raw && v && v.outcome !== protocol.outcomes.noVerdict; // a frame without a verdict has no heat map
      const want = v ? `/api/stations/${encodeURIComponent(st.id)}/${heat ? 'overlay.png' : 'frame.jpg'}?r=${v.resultId}` : '';
      if (want && img.dataset.src !== want) {
        img.dataset.src = want;
        img.src = want;
        img.dataset.resultId = v.resultId;
      }
      const ref = st.reference;
      $('.mode-note', card).innerHTML = ref.state !== 'ready' ? `<div class="note">${t('live.referenceNote', { state: termHtml('reference', ref.state), detail: esc(ref.detail) })}</div>`
        : ref.mode === 'zero-shot' ? `<div class="note zero-shot">${termHtml('mode', 'zero-shot')}: ${esc(t(ref.productId === null ? 'live.zeroShot.noProduct' : 'live.zeroShot.noShots'))}</div>` : '';
      const oc = st.counters.outcomes;
      const { pass, fail, noVerdict } = protocol.outcomes;
      const nv = Object.entries(oc).filter(([k]) => k.startsWith(noVerdict)).reduce((a, [, n]) => a + n, 0);
      // [data-k, label, value as HTML]
      const kv = [
        ['product', t('live.product'), esc(ref.productId === null ? t('live.noProduct') : t('live.productValue', { name: ref.productName, recipe: ref.recipeId }))],
        ['mode', t('live.mode'), `${termHtml('mode', ref.mode)}${ref.shots ? esc(t('live.shots', { n: ref.shots })) : ''} · ${esc(t('common.referenceSet', { version: ref.version }))}`],
        ['score', t('live.score'), v ? fmt(v.anomalyScore) : '–'],
        ['threshold', t('live.threshold'), `${fmt(ref.threshold)} (${termHtml('thresholdSource', ref.thresholdSource)})`],
        ['defects', t('live.defects'), v ? esc(t('common.defectsValue', { count: v.defects.count, px: v.defects.areaPx, pct: fmt(v.defects.areaPct, 2) })) : '–'],
        ['timing', t('live.timing'), v ? esc(t('common.timingValue', { total: fmt(v.timing.processingMs, 0), queue: fmt(v.timing.queueMs, 0), inference: fmt(v.timing.inferenceMs, 0) })) : '–'],
        ['camera', t('live.camera'), `${termHtml('camera', st.camera.state)}${st.camera.lastError ? ` — ${esc(st.camera.lastError)}` : ''} · ${termHtml('trigger', st.triggerMode)}`],
        ['station', t('live.station'), termHtml('stationState', st.status.state)],
        ['counts', t('live.counts'), esc(t('live.countsValue', { captured: st.counters.captured, ok: oc[pass] ?? 0, ng: oc[fail] ?? 0, nv, pending: st.counters.pending, okName: term('outcome', pass).name, ngName: term('outcome', fail).name, nvName: term('outcome', noVerdict).name }))],
        ['queue', t('live.queue'), `${st.queue.depth}/${st.queue.capacity} (${termHtml('queuePolicy', st.queue.policy)})`],
      ];
      $('dl', card).innerHTML = kv.map(([k, label, val]) => `<dt>${esc(label)}</dt><dd data-k="${k}">${val}</dd>`).join('');
    }
  };
  await banner();
  await tick();
  every(700, tick, current);
}
