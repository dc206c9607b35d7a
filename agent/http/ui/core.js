// Shared by the UI's pages: DOM and format helpers, the API client (writes carry the token), the protocol constants.
import { t, term, setTerm, lang } from './i18n.js';

export { t, term, termHtml, setTerm, lang } from './i18n.js';
export const $ = (sel, el = document) => el.querySelector(sel);
export const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
// German writes a decimal comma; English and Chinese a point.
export const fmt = (n, d = 3) => (typeof n === 'number' && Number.isFinite(n) ? (lang === 'de' ? n.toFixed(d).replace('.', ',') : n.toFixed(d)) : '–');
const tokenBox = $('#token');
tokenBox.value = localStorage.getItem('adaptclip.token') ?? '';
tokenBox.addEventListener('change', () => localStorage.setItem('adaptclip.token', tokenBox.value));

export function toast(text, error = false) {
  const t = $('#toast');
  t.textContent = text;
  t.className = `show${error ? ' error' : ''}`;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.className = ''), 4000);
}

export async function api(method, url, body, contentType) {
  const headers = {};
  // With logins the session cookie goes along by itself; the token box is for agents without http.users.
  if (method !== 'GET' && tokenBox.value && !session.loginsEnabled) headers.authorization = `Bearer ${tokenBox.value}`;
  if (body !== undefined) headers['content-type'] = contentType ?? 'application/json';
  if (inPageTimer) headers['x-background'] = '1'; // a refresh by the page itself: it does not keep a login alive
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : contentType ? body : JSON.stringify(body) });
  const data = res.headers.get('content-type')?.includes('json') ? await res.json() : null;
  if (res.status === 401 && session.loginsEnabled && session.user) {
    session.user = null; // the session ended (idle timeout, restart): ask for a login again
    showSession();
  }
  if (!res.ok) throw new Error(data?.error ?? t('error.http', { method, url, status: res.status }));
  return data;
}

// ---- logins and roles ----
/** Who is logged in (GET /auth/session); without http.users logins are off and the token box decides. */
export const session = { loginsEnabled: false, user: null, idleTimeoutMin: 30 };
const RANK = { viewer: 0, operator: 1, engineer: 2 };
/** Whether the logged-in role may do what needs `role` (always true without logins: the token decides). */
export const may = (role) => !session.loginsEnabled || (session.user !== null && RANK[session.user.role] >= RANK[role]);

// Controls that change things, by the role they need (the server refuses them anyway; this saves a useless click).
const CONTROLS = {
  engineer: ['#create input', '#create button', '[data-act=threshold]', '[data-act=delete]', '[data-del]', '[data-restore]', '[data-tw=set]', '[data-tw=calibrated]', '[data-region-act=save]'],
  operator: ['[data-act=activate]', '[data-cap=freeze]', '[data-cap=picture]', '[data-cap=upload]', '[data-keep]', '[data-discard]', '#keep-as-shot', '[data-reset]', '[data-trigger]'],
};
function lockControls() {
  if (!session.loginsEnabled) return;
  for (const [role, selectors] of Object.entries(CONTROLS)) {
    if (may(role)) continue;
    // Marked, not disabled: a click still asks the server, whose refusal says in words why and whom to ask.
    document.querySelectorAll(selectors.join(',')).forEach((el) => {
      if (el.dataset.roleLocked) return;
      el.dataset.roleLocked = role;
      el.setAttribute('aria-disabled', 'true');
      el.title = session.user ? t('role.needs', { role: term('role', role).name, you: term('role', session.user.role).name }) : t('role.needsLogin', { role: term('role', role).name });
    });
  }
}
new MutationObserver(lockControls).observe(document.body, { childList: true, subtree: true });

const who = $('#who');
function showSession(ask = true) {
  tokenBox.closest('label').hidden = session.loginsEnabled;
  who.hidden = !session.loginsEnabled;
  if (!session.loginsEnabled) return;
  who.innerHTML = session.user
    ? `<span data-user>${esc(session.user.name)}</span> · <span data-role></span> <button type="button" data-logout>${esc(t('login.logout'))}</button>`
    : `<button type="button" data-login>${esc(t('login.login'))}</button>`;
  if (session.user) setTerm($('[data-role]', who), 'role', session.user.role);
  if (session.user) $('[data-logout]', who).onclick = async () => { await api('POST', '/auth/logout'); session.user = null; showSession(); rerender(); };
  else {
    $('[data-login]', who).onclick = showLogin;
    if (ask) showLogin();
  }
}

/** The login form, over the page (reads stay visible behind it where the agent allows them). */
function showLogin() {
  if ($('#login')) return;
  const back = document.createElement('div');
  back.className = 'dialog-back';
  back.id = 'login';
  back.innerHTML = `<form class="dialog login" aria-label="${esc(t('login.title'))}"><h3>${esc(t('login.title'))}</h3>
    <label>${esc(t('login.user'))} <input name="name" autocomplete="username" required maxlength="64"></label>
    <label>${esc(t('login.password'))} <input name="password" type="password" autocomplete="current-password" required></label>
    <div class="error" data-login-error></div>
    <div class="dialog-buttons"><button type="button" data-dialog="cancel">${esc(t('login.notNow'))}</button> <button class="primary" type="submit">${esc(t('login.login'))}</button></div></form>`;
  $('[data-dialog=cancel]', back).onclick = () => back.remove();
  $('form', back).onsubmit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    try {
      const r = await api('POST', '/auth/login', { name: f.get('name'), password: f.get('password') });
      Object.assign(session, r);
      back.remove();
      showSession();
      rerender();
    } catch (err) {
      $('[data-login-error]', back).textContent = err.message;
      $('input[name=password]', back).value = '';
    }
  };
  document.body.append(back);
  $('input[name=name]', back).focus();
}

try {
  Object.assign(session, await (await fetch('/auth/session')).json());
} catch { /* an agent without /auth/session: token box as before */ }
showSession();
// Another language: the header's login parts again, an open login form in the new words.
window.addEventListener('langchange', () => {
  const open = $('#login');
  open?.remove();
  showSession(false);
  if (open && !session.user) showLogin();
});
// ---- end logins and roles ----

// Outcome names, NO_VERDICT reasons, verdict codes (adapters/protocol.ts protocolForUi()): set by banner() from
// GET /api/info, which every page awaits before it renders.
export let protocol = null;


export async function banner() {
  const info = await api('GET', '/api/info');
  protocol = info.protocol;
  $('#banner').textContent = info.safeMode ? t('banner.safeMode', { problem: info.configProblems[0] ?? t('banner.invalidConfig') }) : '';
  return info;
}

// One refresh timer for the page on screen; the router stops it when the page changes. A page that was replaced
// while it loaded (`current` false: a quick language switch or click) installs none, so it cannot take the new
// page's timer.
let pageTimer = null;
let inPageTimer = false;
export function every(ms, fn, current = () => true) {
  if (!current()) return;
  clearInterval(pageTimer);
  pageTimer = setInterval(() => {
    // api() calls made as the tick starts are marked as background refreshes (x-background).
    inPageTimer = true;
    let run;
    try { run = Promise.resolve(fn()); } catch (e) { run = Promise.reject(e); } finally { inPageTimer = false; }
    run.catch((e) => toast(e.message, true));
  }, ms);
}
export function stopPageTimer() {
  clearInterval(pageTimer);
  pageTimer = null;
}

/** Renders the current page again (after a change that alters what it shows). */
export function rerender() {
  window.dispatchEvent(new Event('hashchange'));
}
