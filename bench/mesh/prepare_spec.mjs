// Copies the official Twilio Studio v2 spec, pointing every `servers` entry
// (top-level AND the per-path ones Twilio repeats on each path) at the local emulator,
// so no generated request can ever leave 127.0.0.1.
import { readFileSync, writeFileSync } from 'node:fs';
const port = process.env.UPSTREAM_PORT || '8701';
const src = process.env.STUDIO_SPEC || new URL('../../tests/data/studio_v2.json', import.meta.url).pathname;
const spec = JSON.parse(readFileSync(src, 'utf8'));
const local = [{ url: `http://127.0.0.1:${port}` }];
spec.servers = local;
for (const item of Object.values(spec.paths)) {
  if (item.servers) item.servers = local;
  for (const op of Object.values(item)) if (op && typeof op === 'object' && op.servers) op.servers = local;
}
// walk the whole document: every `servers` array must now be local only
(function check(node) {
  if (!node || typeof node !== 'object') return;
  if (Array.isArray(node.servers) && node.servers.some(s => !s.url.startsWith('http://127.0.0.1:'))) {
    throw new Error('a servers entry still points away from 127.0.0.1');
  }
  for (const v of Object.values(node)) check(v);
})(spec);
const text = JSON.stringify(spec, null, 1);
writeFileSync(new URL('./studio_v2.local.json', import.meta.url), text);
console.log(`wrote studio_v2.local.json (servers -> http://127.0.0.1:${port})`);
