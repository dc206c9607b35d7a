// Operator UI: plain ES modules, no build step; each page polls the REST API. This file is the router.
import { $, stopPageTimer, toast } from './core.js';
import { applyStatic, lang, LANGUAGE_NAMES, setLanguage } from './i18n.js';
import { health } from './health.js';
import { history } from './history.js';
import { live } from './live.js';
import { overview } from './overview.js';
import { products } from './products.js';
import { audit } from './audit.js';
import { glossary } from './glossary.js';

const pages = { overview, live, products, history, health, glossary };
pages.audit = audit; // logins and roles: the audit log page
let pageToken = 0;

async function route() {
  stopPageTimer();
  const token = ++pageToken;
  const name = (location.hash.replace('#/', '') || 'overview').split('?')[0];
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', a.dataset.page === name));
  const page = $('#page');
  page.innerHTML = '';
  page.dataset.page = name;
  try {
    await (pages[name] ?? overview)(page, () => token === pageToken);
  } catch (err) {
    toast(err.message, true);
  }
}

// The language selector: per browser; a switch draws the page again in the new words (no reload).
const select = $('#lang');
select.innerHTML = Object.entries(LANGUAGE_NAMES).map(([code, name]) => `<option value="${code}" lang="${code}">${name}</option>`).join('');
select.value = lang;
select.addEventListener('change', () => setLanguage(select.value));
applyStatic();
window.addEventListener('langchange', route);
window.addEventListener('hashchange', route);
route();
