// Live: every station with its latest verdict, frame and heat map.
import { $, esc, fmt, toast, api, banner, protocol, every } from './core.js';

export async function live(page, current) {
  page.innerHTML = '<div class="grid" id="stations"></div>';
  const cards = new Map();
  const tick = async () => {
    if (!current()) return;
    const stations = await api('GET', '/api/stations');
    if (!stations.length) $('#stations').innerHTML = '<div class="card">No stations configured.</div>';
    for (const st of stations) {
      let card = cards.get(st.id);
      if (!card) {
        card = document.createElement('div');
        card.className = 'card station';
        card.dataset.station = st.id;
        card.innerHTML = `<h2>${esc(st.id)} · ${esc(st.cameraId)}</h2>
          <img class="live" alt="latest frame with heat map">
          <div><span class="verdict"></span> <label><input type="checkbox" class="raw"> raw frame</label></div>
          <div class="mode-note"></div><dl class="kv"></dl>`;
        $('#stations').append(card);
        cards.set(st.id, card);
      }
      const v = st.latest;
      const verdict = $('.verdict', card);
      verdict.textContent = v ? (v.outcome === protocol.outcomes.noVerdict ? `NO VERDICT (${v.noVerdictReason})` : v.outcome) : 'waiting…';
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
      $('.mode-note', card).innerHTML = ref.state !== 'ready' ? `<div class="note">Reference ${esc(ref.state)}: ${esc(ref.detail)}</div>`
        : ref.mode === 'zero-shot' ? `<div class="note zero-shot">Zero-shot: ${ref.productId === null ? 'no product active' : 'this product has no normal shots'} — register shots under Products for few-shot.</div>` : '';
      const oc = st.counters.outcomes;
      const { pass, fail, noVerdict } = protocol.outcomes;
      const kv = [
        ['Product', ref.productId === null ? '(none)' : `${ref.productName} (recipe ${ref.recipeId})`],
        ['Mode', `${ref.mode}${ref.shots ? `, ${ref.shots} shots` : ''} · ref v${ref.version}`],
        ['Score', v ? fmt(v.anomalyScore) : '–'],
        ['Threshold', `${fmt(ref.threshold)} (${ref.thresholdSource})`],
        ['Defects', v ? `${v.defects.count} · ${v.defects.areaPx} px (${fmt(v.defects.areaPct, 2)} %)` : '–'],
        ['Timing', v ? `total ${fmt(v.timing.processingMs, 0)} ms · queue ${fmt(v.timing.queueMs, 0)} ms · inference ${fmt(v.timing.inferenceMs, 0)} ms` : '–'],
        ['Camera', `${st.camera.state}${st.camera.lastError ? ` — ${st.camera.lastError}` : ''} · ${st.triggerMode}`],
        ['Counts', `captured ${st.counters.captured} · pass ${oc[pass] ?? 0} · fail ${oc[fail] ?? 0} · no verdict ${Object.entries(oc).filter(([k]) => k.startsWith(noVerdict)).reduce((a, [, n]) => a + n, 0)} · pending ${st.counters.pending}`],
        ['Queue', `${st.queue.depth}/${st.queue.capacity} (${st.queue.policy})`],
      ];
      $('dl', card).innerHTML = kv.map(([k, val]) => `<dt>${k}</dt><dd data-k="${k.toLowerCase()}">${esc(val)}</dd>`).join('');
    }
  };
  await banner();
  await tick();
  every(700, tick);
}

// ---- Products ----
