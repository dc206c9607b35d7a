// Shared by the UI's pages: DOM and format helpers, the API client (writes carry the token), the protocol constants.
export const $ = (sel, el = document) => el.querySelector(sel);
export const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
export const fmt = (n, d = 3) => (typeof n === 'number' && Number.isFinite(n) ? n.toFixed(d) : '–');
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
  if (method !== 'GET' && tokenBox.value) headers.authorization = `Bearer ${tokenBox.value}`;
  if (body !== undefined) headers['content-type'] = contentType ?? 'application/json';
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : contentType ? body : JSON.stringify(body) });
  const data = res.headers.get('content-type')?.includes('json') ? await res.json() : null;
  if (!res.ok) throw new Error(data?.error ?? `${method} ${url}: HTTP ${res.status}`);
  return data;
}

// Outcome names, NO_VERDICT reasons, verdict codes (adapters/protocol.ts protocolForUi()): set by banner() from
// GET /api/info, which every page awaits before it renders.
export let protocol = null;


export async function banner() {
  const info = await api('GET', '/api/info');
  protocol = info.protocol;
  $('#banner').textContent = info.safeMode ? `SAFE MODE: ${info.configProblems[0] ?? 'invalid config'}` : '';
  return info;
}

// One refresh timer for the page on screen; the router stops it when the page changes.
let pageTimer = null;
export function every(ms, fn) {
  clearInterval(pageTimer);
  pageTimer = setInterval(() => Promise.resolve(fn()).catch((e) => toast(e.message, true)), ms);
}
export function stopPageTimer() {
  clearInterval(pageTimer);
  pageTimer = null;
}

/** Renders the current page again (after a change that alters what it shows). */
export function rerender() {
  window.dispatchEvent(new Event('hashchange'));
}
