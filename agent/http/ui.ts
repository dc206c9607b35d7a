// The operator web UI: three static files, read once at start, open without a token (the API calls carry it).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { readFileSync } from 'node:fs';

const UI_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/ui/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/ui/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

export const uiRoutes: FastifyPluginAsyncZod = async (app) => {
  for (const [url, { file, type }] of Object.entries(UI_FILES)) {
    const body = readFileSync(new URL(`./ui/${file}`, import.meta.url));
    app.get(url, { config: { access: 'open' }, schema: { hide: true } }, (_req, reply) => reply.type(type).header('cache-control', 'no-cache').send(body));
  }
};
