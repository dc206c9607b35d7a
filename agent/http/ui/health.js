// Health: every component with its reason, and the per-station accounting.
import { $, esc, toast, api, banner, every } from './core.js';

export async function health(page, current) {
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
  every(2000, tick);
}
