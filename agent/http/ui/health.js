// Health: every component with its reason, and the per-station accounting.
import { $, esc, api, banner, every, t, term, termHtml } from './core.js';

/** "camera:cam1" → the plain name of "camera" and the id; unknown kinds (a newer agent) as they are. */
const componentName = (key) => {
  const [kind, ...id] = key.split(':');
  const name = term('component', kind).name;
  return id.length ? `${name} ${id.join(':')}` : name;
};
/** An accounting key: PASS, FAIL or NO_VERDICT:<reason> (agent/pipeline/station.ts) in plain words. */
const outcomeName = (key) => {
  const [outcome, reason] = key.split(':');
  return reason ? term('reason', reason).name : term('outcome', outcome).name;
};

export async function health(page, current) {
  await banner();
  page.innerHTML = `<div class="card"><h2>${esc(t('health.title'))}</h2><table id="health"></table></div><div class="card" style="margin-top:12px"><h2>${esc(t('health.accounting'))}</h2><table id="counters"></table></div>`;
  const tick = async () => {
    if (!current()) return;
    const res = await fetch('/healthz');
    const h = await res.json();
    if (!current()) return;
    $('#health').innerHTML = `<tr><th>${esc(t('health.col.component'))}</th><th>${esc(t('health.col.state'))}</th><th>${esc(t('health.col.reason'))}</th></tr>` +
      Object.entries(h.components).map(([k, c]) => {
        const state = c.ok ? (c.degraded ? 'degraded' : 'ok') : 'notOk';
        return `<tr data-component="${esc(k)}"><td>${esc(componentName(k))}</td><td class="${c.ok ? (c.degraded ? 'warn' : 'ok') : 'bad'}">${termHtml('health', state)}</td><td>${esc(c.reason)}</td></tr>`;
      }).join('');
    const c = await api('GET', '/api/counters');
    if (!current()) return;
    $('#counters').innerHTML = `<tr><th>${esc(t('health.col.station'))}</th><th>${esc(t('health.col.captured'))}</th><th>${esc(t('health.col.pending'))}</th><th>${esc(t('health.col.outcomes'))}</th></tr>` +
      Object.entries(c).map(([s, v]) => `<tr><td>${esc(s)}</td><td>${v.captured}</td><td>${v.pending}</td><td>${esc(Object.entries(v.outcomes).map(([k, n]) => `${outcomeName(k)}: ${n}`).join(' · '))}</td></tr>`).join('');
  };
  await tick();
  every(2000, tick, current);
}
