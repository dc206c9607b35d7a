#!/usr/bin/env node
// Container HEALTHCHECK: exits 0 when the agent's /healthz answers 200, else 1 with the failing components' reasons
// on one line (docker inspect shows it). Plain JavaScript so it starts fast and needs no tsx.
//   node deploy/container/healthcheck.mjs [URL]     default URL: $ADAPTCLIP_HEALTH_URL or http://127.0.0.1:8080/healthz
const url = process.argv[2] ?? process.env.ADAPTCLIP_HEALTH_URL ?? 'http://127.0.0.1:8080/healthz';
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (res.ok) {
    console.log(`healthy: ${url} answered ${res.status}`);
    process.exit(0);
  }
  let reasons = '';
  try {
    const body = await res.json();
    reasons = Object.entries(body.components ?? {}).filter(([, c]) => !c.ok).map(([name, c]) => `${name}: ${c.reason}`).join('; ');
  } catch {
    /* not the agent's JSON: the status alone says enough */
  }
  console.log(`unhealthy: ${url} answered ${res.status}${reasons ? ` (${reasons})` : ''}`);
} catch (err) {
  console.log(`unhealthy: ${url} did not answer (${err instanceof Error ? (err.cause?.code ?? err.cause?.message ?? err.message) : String(err)}); is the agent running and is http.port right?`);
}
process.exit(1);
