// Glossary: every status word the screens show, by kind, with its one-line explanation, in the chosen language.
import { esc, t, term } from './core.js';
import { CATALOGUES, lang } from './i18n.js';
import { GLOSSARY_KINDS } from './glossary-kinds.js';

const headings = () => ({
  verdict: t('glossary.kind.verdict'), outcome: t('glossary.kind.outcome'), reason: t('glossary.kind.reason'), camera: t('glossary.kind.camera'),
  stationState: t('glossary.kind.stationState'), reference: t('glossary.kind.reference'), health: t('glossary.kind.health'), component: t('glossary.kind.component'),
  mode: t('glossary.kind.mode'), thresholdSource: t('glossary.kind.thresholdSource'), trigger: t('glossary.kind.trigger'), queuePolicy: t('glossary.kind.queuePolicy'),
  candidate: t('glossary.kind.candidate'), imageState: t('glossary.kind.imageState'), shiftCause: t('glossary.kind.shiftCause'), role: t('glossary.kind.role'),
});

export async function glossary(page) {
  const names = headings();
  const keys = Object.keys(CATALOGUES[lang]);
  page.innerHTML = `<div class="card glossary"><h2>${esc(t('glossary.title'))}</h2><p class="muted">${esc(t('glossary.intro'))}</p>
    ${GLOSSARY_KINDS.map((kind) => {
      const values = keys.filter((k) => k.startsWith(`term.${kind}.`) && !k.endsWith('.help')).map((k) => k.slice(`term.${kind}.`.length));
      return `<section data-glossary="${kind}"><h3>${esc(names[kind])}</h3><dl>${values.map((v) => {
        const { name, help } = term(kind, v);
        return `<dt data-term-value="${esc(v)}">${esc(name)}</dt><dd>${esc(help)}</dd>`;
      }).join('')}</dl></section>`;
    }).join('')}</div>`;
}
