// The OpenAPI document is generated from the routes' zod schemas: every operation documents its request and its
// responses, and real answers of a running agent match the document (checked with ajv, objects closed: a field a
// handler returns without declaring it fails here). Swagger UI at /docs works from the installed package alone.
import test from 'ava';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { startHarness, TEST_TOKEN, waitFor, type Harness } from './helpers/harness.ts';

interface Media { schema?: Record<string, unknown> }
interface Operation {
  parameters?: { name: string; in: string; schema?: unknown }[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { content?: Record<string, Media> }>;
  security?: unknown[];
}
interface Document { openapi: string; paths: Record<string, Record<string, Operation>> }

let h: Harness;
let doc: Document;
const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: false });
const validators = new Map<string, ValidateFunction>();

test.before(async () => {
  h = await startHarness({ http: { host: '127.0.0.1', port: 0, token: TEST_TOKEN, openReads: false } });
  const res = await fetch(`${h.url}/openapi.json`);
  if (res.status !== 200) throw new Error(`/openapi.json answered ${res.status} without a token`);
  doc = (await res.json()) as Document;
});
test.after.always(() => h?.stop());

/** The documented JSON schema of one response. */
function responseSchema(path: string, method: string, status: number, type = 'application/json') {
  const schema = doc.paths[path]?.[method]?.responses[String(status)]?.content?.[type]?.schema;
  if (!schema) throw new Error(`${method.toUpperCase()} ${path} documents no ${type} schema for ${status}`);
  return schema;
}

function validator(path: string, method: string, status: number): ValidateFunction {
  const key = `${method} ${path} ${status}`;
  let v = validators.get(key);
  if (!v) validators.set(key, (v = ajv.compile(responseSchema(path, method, status))));
  return v;
}

/** Calls the API (with the token) and checks the answer against the document's schema for its path and status. */
async function checked(t: { true(v: boolean, m?: string): void; is(a: unknown, b: unknown, m?: string): void }, method: string, url: string, docPath: string, expect: number, body?: unknown) {
  const res = await h.api<unknown>(method, url, body);
  t.is(res.status, expect, `${method} ${url}: ${JSON.stringify(res.body).slice(0, 300)}`);
  const v = validator(docPath, method.toLowerCase(), res.status);
  t.true(v(res.body), `${method} ${url} (${res.status}) does not match the document: ${ajv.errorsText(v.errors)}`);
  return res.body;
}

test.serial('every operation documents its parameters, request body and responses (success and the error shape)', (t) => {
  t.is(doc.openapi, '3.1.0');
  const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
  t.true(operations.length >= 25, `${operations.length} operations`);
  for (const { path, method, op } of operations) {
    const where = `${method.toUpperCase()} ${path}`;
    for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
      t.truthy(op.parameters?.find((p) => p.in === 'path' && p.name === name && p.schema), `${where}: path parameter ${name} has a schema`);
    }
    for (const p of op.parameters ?? []) t.truthy(p.schema, `${where}: parameter ${p.name} has a schema`);
    if (method === 'post' || method === 'patch') {
      const content = Object.entries(op.requestBody?.content ?? {});
      t.true(content.length > 0 && content.every(([, m]) => m.schema), `${where}: request body with a schema`);
    }
    const success = Object.entries(op.responses).filter(([code]) => code === '200' || code === '201');
    t.is(success.length, 1, `${where}: one success response`);
    for (const [code, r] of Object.entries(op.responses)) {
      const content = Object.entries(r.content ?? {});
      t.true(content.length > 0 && content.every(([, m]) => m.schema), `${where} ${code}: content with a schema`);
      if (Number(code) >= 400 && path !== '/healthz') {
        t.like(r.content?.['application/json']?.schema, { type: 'object', properties: { error: { type: 'string' } }, required: ['error'], additionalProperties: false }, `${where} ${code}: the error shape`);
      }
    }
    if (path.startsWith('/api/') || path.startsWith('/results/')) {
      t.truthy(op.security, `${where}: needs the token (openReads is off)`);
      t.truthy(op.responses['401'], `${where}: documents 401`);
    }
    if (method !== 'get') t.truthy(op.responses['403'], `${where}: documents 403 (writes disabled)`);
  }
  // Binary answers carry their content type.
  t.truthy(responseSchema('/metrics', 'get', 200, 'text/plain'));
  t.truthy(responseSchema('/api/stations/{id}/frame.jpg', 'get', 200, 'image/jpeg'));
  for (const path of ['/api/stations/{id}/overlay.png', '/api/shots/{id}/image.png', '/results/{id}/mask.png', '/api/results/{id}/mask.png']) {
    t.like(responseSchema(path, 'get', 200, 'image/png'), { type: 'string', format: 'binary' });
  }
  t.truthy(doc.paths['/api/products/{id}/shots']!.post!.requestBody!.content['image/png']);
  // The UI's static files and the docs' own routes are not part of the API document.
  t.falsy(doc.paths['/']);
  t.false(Object.keys(doc.paths).some((p) => p.startsWith('/docs')));
});

test.serial('the document is strict: a field it does not declare, or a wrong type, fails validation', async (t) => {
  const info = await checked(t, 'GET', '/api/info', '/api/info', 200) as Record<string, unknown>;
  const v = validator('/api/info', 'get', 200);
  t.false(v({ ...info, undeclared: 1 }), 'an undeclared field is refused');
  t.false(v({ ...info, startedAt: 'now' }), 'a wrong type is refused');
  const { version: _version, ...missing } = info;
  t.false(v(missing), 'a missing field is refused');
});

test.serial('real answers match the document: system, stations, products and shots, results, audit, errors', async (t) => {
  await waitFor(() => h.daemon.store.queryResults({ limit: 1 })[0], 15_000, 'a first result');
  const health = await fetch(`${h.url}/healthz`);
  const hv = validator('/healthz', 'get', health.status);
  t.true(hv(await health.json()), ajv.errorsText(hv.errors));
  await checked(t, 'GET', '/api/info', '/api/info', 200);
  await checked(t, 'GET', '/api/counters', '/api/counters', 200);
  const stations = await checked(t, 'GET', '/api/stations', '/api/stations', 200) as { latest: unknown }[];
  t.truthy(stations[0]?.latest, 'a station with a latest verdict was checked');

  const product = await checked(t, 'POST', '/api/products', '/api/products', 201, { name: 'openapi-check', threshold: 0.5 }) as { id: number };
  await checked(t, 'GET', '/api/products', '/api/products', 200);
  await checked(t, 'GET', `/api/products/${product.id}`, '/api/products/{id}', 200);
  await checked(t, 'PATCH', `/api/products/${product.id}`, '/api/products/{id}', 200, { name: 'openapi-checked' });
  const added = await checked(t, 'POST', `/api/products/${product.id}/shots/capture`, '/api/products/{id}/shots/capture', 201, { station: 'ST1' }) as { shot: { id: number } };
  const shots = await checked(t, 'GET', `/api/products/${product.id}/shots`, '/api/products/{id}/shots', 200) as { shots: unknown[] };
  t.is(shots.shots.length, 1);
  const activation = await checked(t, 'POST', '/api/stations/ST1/activate', '/api/stations/{id}/activate', 200, { productId: null });
  t.truthy(activation);
  await checked(t, 'DELETE', `/api/shots/${added.shot.id}`, '/api/shots/{id}', 200);

  const results = await checked(t, 'GET', '/api/results?limit=5', '/api/results', 200) as { resultId: string }[];
  t.true(results.length > 0);
  await checked(t, 'GET', `/api/results/${results[0]!.resultId}`, '/api/results/{id}', 200);
  const audit = await checked(t, 'GET', '/api/audit?limit=10', '/api/audit', 200) as unknown[];
  t.true(audit.length > 0);

  // Errors: the one shape, with the messages the UI shows.
  const missing = await checked(t, 'GET', '/api/results/NOPE', '/api/results/{id}', 404) as { error: string };
  t.regex(missing.error, /result NOPE does not exist/);
  const badBody = await checked(t, 'POST', '/api/products', '/api/products', 400, { name: 'x', colour: 'red' }) as { error: string };
  t.is(badBody.error, 'invalid request body: unknown field "colour"; allowed: name, recipeId, threshold');
  const badQuery = await checked(t, 'GET', '/api/results?outcome=MAYBE', '/api/results', 400) as { error: string };
  t.is(badQuery.error, 'outcome must be PASS, FAIL or NO_VERDICT, got "MAYBE"');
  const conflict = await checked(t, 'POST', '/api/stations/ST1/trigger', '/api/stations/{id}/trigger', 409, { partId: 'p' }) as { error: string };
  t.regex(conflict.error, /is free-run/);
  const noToken = await fetch(`${h.url}/api/info`);
  t.is(noToken.status, 401);
  t.true(validator('/api/info', 'get', 401)(await noToken.json()));

  // Binary answers: their documented content types.
  const frame = await fetch(`${h.url}/api/stations/ST1/frame.jpg`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
  t.is(frame.headers.get('content-type'), 'image/jpeg');
  t.truthy(frame.headers.get('x-result-id'));
  t.is(frame.headers.get('cache-control'), 'no-store');
  const metrics = await fetch(`${h.url}/metrics`);
  t.regex(metrics.headers.get('content-type') ?? '', /^text\/plain/);
});

test.serial('Swagger UI at /docs is served from the installed package (no other host) and shows this document', async (t) => {
  const page = await fetch(`${h.url}/docs`);
  t.is(page.status, 200);
  const html = await page.text();
  t.regex(html, /swagger-ui-bundle\.js/);
  const assets = [...html.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1]!);
  t.true(assets.length >= 4, assets.join(' '));
  t.deepEqual(assets.filter((a) => /^(https?:)?\/\//.test(a)), [], 'no asset from another host');
  for (const asset of assets) {
    const res = await fetch(new URL(asset, `${h.url}/docs`));
    t.is(res.status, 200, asset);
    await res.arrayBuffer();
  }
  const init = await (await fetch(`${h.url}/docs/static/swagger-initializer.js`)).text();
  // The spec comes from here, and no validator badge asks validator.swagger.io about it.
  t.regex(init, /validatorUrl: null/);
  t.regex(init, /url: resolveUrl\('\.\/json'\)/);
  t.deepEqual(await (await fetch(`${h.url}/docs/json`)).json(), doc);
});
