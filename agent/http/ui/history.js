// History: results filtered, and one result in detail.
import { $, esc, fmt, toast, api, banner, protocol } from './core.js';

export async function history(page, current) {
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
