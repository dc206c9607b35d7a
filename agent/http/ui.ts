// The operator web UI: the static files of ui/ and its folders (an HTML page, ES modules, the language catalogues in
// ui/i18n/, a style sheet), read once at start and open without a token (the API calls carry it).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { readdirSync, readFileSync } from 'node:fs';

const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
const UI_DIR = new URL('./ui/', import.meta.url);

/** Paths under ui/ ("app.js", "i18n/de.js"), folders walked. */
function files(dir: URL, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(new URL(`${e.name}/`, dir), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]));
}

export const uiRoutes: FastifyPluginAsyncZod = async (app) => {
  for (const file of files(UI_DIR)) {
    const type = TYPES[file.split('.').pop()!];
    if (!type) continue;
    const body = readFileSync(new URL(file, UI_DIR));
    const url = file === 'index.html' ? '/' : `/ui/${file}`;
    app.get(url, { config: { access: 'open' }, schema: { hide: true } }, (_req, reply) => reply.type(type).header('cache-control', 'no-cache').send(body));
  }
};
