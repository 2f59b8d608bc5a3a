// Runs graphql-http's server audits against a gateway and prints one JSON line per audit:
// {"id", "name", "status": "ok" | "warn" | "error", "reason"}.
// Usage: node audit.mjs URL [BEARER_TOKEN]
import { serverAudits } from 'graphql-http';

const [url, token] = process.argv.slice(2);
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};
for (const audit of serverAudits({ url, fetchFn })) {
  const result = await audit.fn();
  console.log(JSON.stringify({ id: audit.id, name: audit.name, status: result.status, reason: result.reason ?? null }));
}
