// Audit page: who changed what and when (GET /api/audit), narrowed by user, action and time range.
import { $, api, banner, esc, toast, lang, t } from './core.js';

/** "api:otto@10.0.0.7" → otto (from 10.0.0.7); older rows and other doors (opcua:…, mqtt:…) are shown as they are. */
function whoOf(actor) {
  const m = /^api:([^@]+)@(.+)$/.exec(actor);
  return m ? { user: m[1], from: m[2] } : { user: actor, from: '' };
}

const when = (ms) => new Date(ms).toLocaleString(lang);
const brief = (detail) => {
  const text = JSON.stringify(detail);
  return text.length > 160 ? `${text.slice(0, 160)}…` : text;
};

export async function audit(page, current) {
  await banner();
  if (!current()) return;
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  page.innerHTML = `<div class="card"><h2>${esc(t('audit.title'))}</h2>
    <form class="inline" id="audit-filter">
      <label>${esc(t('audit.user'))} <input name="user" maxlength="64" placeholder="${esc(t('audit.any'))}" value="${esc(params.get('user') ?? '')}"></label>
      <label>${esc(t('audit.action'))} <input name="action" maxlength="64" placeholder="${esc(t('audit.actionPlaceholder'))}" value="${esc(params.get('action') ?? '')}"></label>
      <label>${esc(t('audit.from'))} <input name="from" type="datetime-local" value="${esc(params.get('from') ?? '')}"></label>
      <label>${esc(t('audit.to'))} <input name="to" type="datetime-local" value="${esc(params.get('to') ?? '')}"></label>
      <button class="primary" type="submit">${esc(t('audit.show'))}</button>
    </form>
    <div id="audit-rows"></div></div>`;
  const show = async () => {
    const f = new FormData($('#audit-filter'));
    const q = new URLSearchParams({ limit: '200' });
    for (const k of ['user', 'action']) if (f.get(k)) q.set(k, String(f.get(k)).trim());
    // datetime-local is local time without a zone: Date makes it an instant, sent as epoch ms.
    for (const k of ['from', 'to']) if (f.get(k)) q.set(k, String(new Date(String(f.get(k))).getTime()));
    const rows = await api('GET', `/api/audit?${q}`);
    if (!current()) return;
    $('#audit-rows').innerHTML = rows.length
      ? `<table class="audit"><tr><th>${esc(t('audit.col.when'))}</th><th>${esc(t('audit.user'))}</th><th>${esc(t('audit.action'))}</th><th>${esc(t('audit.col.detail'))}</th></tr>${rows.map((r) => {
        const w = whoOf(r.actor);
        return `<tr data-audit="${r.id}"><td>${esc(when(r.at))}</td><td><span data-user>${esc(w.user)}</span>${w.from ? ` <span class="muted">${esc(t('audit.fromHost', { host: w.from }))}</span>` : ''}</td><td data-action>${esc(r.action)}</td><td><code>${esc(brief(r.detail))}</code></td></tr>`;
      }).join('')}</table>`
      : `<div class="note">${esc(t('audit.none'))}</div>`;
  };
  $('#audit-filter').addEventListener('submit', (e) => {
    e.preventDefault();
    show().catch((err) => toast(err.message, true));
  });
  await show();
}
