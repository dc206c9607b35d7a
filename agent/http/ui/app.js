// Operator UI: plain ES modules, no build step; each page polls the REST API. This file is the router.
import { $, stopPageTimer, toast } from './core.js';
import { health } from './health.js';
import { history } from './history.js';
import { live } from './live.js';
import { overview } from './overview.js';
import { products } from './products.js';
import { audit } from './audit.js';

const pages = { overview, live, products, history, health };
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
window.addEventListener('hashchange', route);
route();
