// Operator UI: plain modules, no build step. Polls the REST API; every write sends the token from the header box.
const $ = (sel, el = document) => el.querySelector(sel);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const fmt = (n, d = 3) => (typeof n === 'number' && Number.isFinite(n) ? n.toFixed(d) : '–');
const tokenBox = $('#token');
tokenBox.value = localStorage.getItem('adaptclip.token') ?? '';
tokenBox.addEventListener('change', () => localStorage.setItem('adaptclip.token', tokenBox.value));

function toast(text, error = false) {
  const t = $('#toast');
  t.textContent = text;
  t.className = `show${error ? ' error' : ''}`;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.className = ''), 4000);
}

async function api(method, url, body, contentType) {
  const headers = {};
  if (method !== 'GET' && tokenBox.value) headers.authorization = `Bearer ${tokenBox.value}`;
  if (body !== undefined) headers['content-type'] = contentType ?? 'application/json';
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : contentType ? body : JSON.stringify(body) });
  const data = res.headers.get('content-type')?.includes('json') ? await res.json() : null;
  if (!res.ok) throw new Error(data?.error ?? `${method} ${url}: HTTP ${res.status}`);
  return data;
}

// Outcome names, NO_VERDICT reasons, verdict codes (adapters/protocol.ts protocolForUi()): set by banner() from
// GET /api/info, which every page awaits before it renders.
let protocol = null;

let timer = null;
let pageToken = 0;
const pages = { live, products, history, health };

async function route() {
  clearInterval(timer);
  const token = ++pageToken;
  const name = (location.hash.replace('#/', '') || 'live').split('?')[0];
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', a.dataset.page === name));
  const page = $('#page');
  page.innerHTML = '';
  page.dataset.page = name;
  try {
    await (pages[name] ?? live)(page, () => token === pageToken);
  } catch (err) {
    toast(err.message, true);
  }
}
window.addEventListener('hashchange', route);

async function banner() {
  const info = await api('GET', '/api/info');
  protocol = info.protocol;
  $('#banner').textContent = info.safeMode ? `SAFE MODE: ${info.configProblems[0] ?? 'invalid config'}` : '';
  return info;
}

// ---- Live ----
async function live(page, current) {
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
  timer = setInterval(() => tick().catch((e) => toast(e.message, true)), 700);
}

// ---- Products ----
async function products(page, current) {
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
      route();
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
  $('[data-act=delete]', card).onclick = () => act(() => api('DELETE', `/api/products/${p.id}`), () => 'deleted').then(() => route());
  card.querySelectorAll('[data-del]').forEach((b) => (b.onclick = () => act(() => api('DELETE', `/api/shots/${b.dataset.del}`), () => 'shot deleted')));
}

// ---- History ----
async function history(page, current) {
  await banner();
  page.innerHTML = `<div class="card"><form class="inline" id="filters">
      <label>Station <input name="station" size="8"></label>
      <label>Part <input name="part" size="12"></label>
      <label>Outcome <select name="outcome"><option value="">any</option>${Object.values(protocol.outcomes).map((o) => `<option>${esc(o)}</option>`).join('')}</select></label>
      <label>Since <input name="since" type="datetime-local"></label>
      <label>Limit <input name="limit" type="number" value="50" min="1" max="1000"></label>
      <button class="primary">Filter</button></form>
    <div id="detail"></div></div>
    <table><thead><tr><th>Seq</th><th>Station</th><th>Time</th><th>Outcome</th><th>Score</th><th>Threshold</th><th>Product</th><th>Ref</th><th>Mode</th><th>Total ms</th><th>Mask</th></tr></thead><tbody id="rows"></tbody></table>`;
  const load = async () => {
    const f = new FormData($('#filters'));
    const q = new URLSearchParams();
    for (const [k, v] of f) if (v) q.set(k, k === 'since' ? String(Date.parse(v)) : v);
    const rows = await api('GET', `/api/results?${q}`);
    if (!current()) return;
    $('#rows').innerHTML = rows.map((r) => `<tr class="clickable" data-id="${r.resultId}"><td>${r.resultSeq}</td><td>${esc(r.stationId)}</td>
      <td>${new Date(r.decidedAt).toLocaleTimeString()}</td><td><span class="verdict ${r.outcome}" style="font-size:12px">${r.outcome}${r.reason ? ` ${r.reason}` : ''}</span></td>
      <td>${fmt(r.score)}</td><td>${fmt(r.threshold)}</td><td>${r.recipeId}</td><td>v${r.referenceVersion}</td><td>${r.mode}${r.shots ? ` K=${r.shots}` : ''}</td><td>${fmt(r.totalMs, 0)}</td><td>${r.hasMask ? 'yes' : ''}</td></tr>`).join('');
    document.querySelectorAll('#rows tr').forEach((tr) => (tr.onclick = () => showResult(tr.dataset.id)));
  };
  $('#filters').addEventListener('submit', (e) => {
    e.preventDefault();
    load().catch((err) => toast(err.message, true));
  });
  await load();
}

async function showResult(id) {
  const r = await api('GET', `/api/results/${id}`);
  $('#detail').innerHTML = `<h2>Result ${esc(r.resultId)} (seq ${r.resultSeq})</h2>
    <div>${r.outcome}${r.reason ? ` (${r.reason})` : ''} · score ${fmt(r.score)} · threshold ${fmt(r.threshold)} · pack ${esc(r.packId)} · defects ${r.defectCount} (${r.defectAreaPx} px)</div>
    ${r.hasMask ? `<img class="mask" id="mask" src="/results/${r.resultId}/mask.png" alt="defect mask">` : '<div class="note">No mask stored for this result.</div>'}`;
}

// ---- Health ----
async function health(page, current) {
  await banner();
  page.innerHTML = '<div class="card"><h2>System health</h2><table id="health"></table></div><div class="card" style="margin-top:12px"><h2>Accounting</h2><table id="counters"></table></div>';
  const tick = async () => {
    if (!current()) return;
    const res = await fetch('/healthz');
    const h = await res.json();
    $('#health').innerHTML = `<tr><th>Component</th><th>State</th><th>Reason</th></tr>` +
      Object.entries(h.components).map(([k, c]) => `<tr data-component="${esc(k)}"><td>${esc(k)}</td><td class="${c.ok ? (c.degraded ? 'warn' : 'ok') : 'bad'}">${c.ok ? (c.degraded ? 'DEGRADED' : 'ok') : 'NOT OK'}</td><td>${esc(c.reason)}</td></tr>`).join('');
    const c = await api('GET', '/api/counters');
    $('#counters').innerHTML = `<tr><th>Station</th><th>Captured</th><th>Pending</th><th>Outcomes</th></tr>` +
      Object.entries(c).map(([s, v]) => `<tr><td>${esc(s)}</td><td>${v.captured}</td><td>${v.pending}</td><td>${esc(Object.entries(v.outcomes).map(([k, n]) => `${k} ${n}`).join(' · '))}</td></tr>`).join('');
  };
  await tick();
  timer = setInterval(() => tick().catch((e) => toast(e.message, true)), 2000);
}

route();
