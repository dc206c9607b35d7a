// The UI's words: one catalogue per language (i18n/en.js, de.js, zh-Hans.js, the same keys), the chosen language
// (kept per browser in localStorage, first guess from navigator.languages), and the glossary of status words: every
// status the API reports is shown by its plain name, with a one-line explanation as title (hover) and on tap.
import en from './i18n/en.js';
import de from './i18n/de.js';
import zhHans from './i18n/zh-Hans.js';

export const CATALOGUES = { en, de, 'zh-Hans': zhHans };
/** Each language named in itself, for the selector. */
export const LANGUAGE_NAMES = { en: 'English', de: 'Deutsch', 'zh-Hans': '简体中文' };
const STORE_KEY = 'adaptclip.lang';

/** de* → de, zh* → zh-Hans, anything else → en. */
export function pickLanguage(wanted) {
  for (const l of wanted ?? []) {
    const low = String(l).toLowerCase();
    if (low.startsWith('de')) return 'de';
    if (low.startsWith('zh')) return 'zh-Hans';
    if (low.startsWith('en')) return 'en';
  }
  return 'en';
}

const saved = localStorage.getItem(STORE_KEY);
export let lang = saved && CATALOGUES[saved] ? saved : pickLanguage(navigator.languages ?? [navigator.language]);
document.documentElement.lang = lang;

const escape = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/** The text of `key` in the chosen language, {placeholders} filled from `params` (plain text: escape it for HTML). */
export function t(key, params) {
  const text = CATALOGUES[lang][key] ?? en[key];
  if (text === undefined) return key; // the i18n test keeps this from happening
  return params ? text.replace(/\{(\w+)\}/g, (m, k) => (params[k] === undefined ? m : String(params[k]))) : text;
}

/** A status value in plain words: { name, help }. Unknown values (a newer agent) are shown as they are. */
export function term(kind, value) {
  const key = `term.${kind}.${value}`;
  if (CATALOGUES[lang][key] === undefined && en[key] === undefined) return { name: String(value), help: '' };
  return { name: t(key), help: t(`${key}.help`) };
}

/** A status as a chip: plain name, explanation as title and on tap (touch screens have no hover). */
export function termHtml(kind, value, cls = '') {
  const { name, help } = term(kind, value);
  return `<span class="term ${cls}" data-term="${escape(kind)}.${escape(value)}" tabindex="0" title="${escape(help)}">${escape(name)}</span>`;
}

/** Marks an element made elsewhere as the status `kind`/`value` (text, title, tap target). */
export function setTerm(el, kind, value) {
  const { name, help } = term(kind, value);
  el.textContent = name;
  el.title = help;
  el.dataset.term = `${kind}.${value}`;
  el.tabIndex = 0;
}

/** Fills the static page's marked elements: data-i18n (text), data-i18n-title, -placeholder, -aria-label. */
export function applyStatic(root = document) {
  root.querySelectorAll('[data-i18n]').forEach((el) => (el.textContent = t(el.dataset.i18n)));
  for (const attr of ['title', 'placeholder', 'aria-label']) {
    root.querySelectorAll(`[data-i18n-${attr}]`).forEach((el) => el.setAttribute(attr, t(el.getAttribute(`data-i18n-${attr}`))));
  }
}

/** Switches the language: stored for this browser, the page drawn again ('langchange' tells the header and router). */
export function setLanguage(next) {
  if (!CATALOGUES[next] || next === lang) return;
  lang = next;
  localStorage.setItem(STORE_KEY, next);
  document.documentElement.lang = next;
  applyStatic();
  window.dispatchEvent(new Event('langchange'));
}

// ---- the explanation on tap: one small popover under the tapped status ----
const pop = document.createElement('div');
pop.id = 'term-pop';
pop.setAttribute('role', 'tooltip');
pop.hidden = true;
document.body.append(pop);
function explain(el) {
  const [kind, ...rest] = el.dataset.term.split('.');
  const { name, help } = term(kind, rest.join('.'));
  if (!help) return;
  pop.innerHTML = `<b>${escape(name)}</b> ${escape(help)}`;
  pop.hidden = false;
  pop.dataset.for = el.dataset.term;
  const r = el.getBoundingClientRect();
  const w = Math.min(360, innerWidth - 16);
  pop.style.maxWidth = `${w}px`;
  pop.style.left = `${Math.max(8, Math.min(r.left, innerWidth - w - 8)) + scrollX}px`;
  pop.style.top = `${r.bottom + 6 + scrollY}px`;
}
document.addEventListener('click', (e) => {
  const el = e.target.closest?.('[data-term]');
  if (el) explain(el);
  else if (!e.target.closest?.('#term-pop')) pop.hidden = true;
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') pop.hidden = true;
  else if ((e.key === 'Enter' || e.key === ' ') && e.target.dataset?.term && !e.target.closest('button')) { e.preventDefault(); explain(e.target); }
});
window.addEventListener('hashchange', () => (pop.hidden = true));
