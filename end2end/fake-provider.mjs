// A fake Acme Desk API for the browser tests: the provider described by
// server/tests/fixtures/providers/acme-desk.toml. It knows one key, and
// refuses any other with 401, as a real provider does.
import { createServer } from "node:http";

export const GOOD_KEY = "acme_e2e_key_0123456789wxyz";
const port = Number(process.env.FAKE_PROVIDER_PORT ?? "3918");

createServer((request, response) => {
  const json = (status, body) => {
    response.writeHead(status, { "content-type": "application/json" });
    response.end(JSON.stringify(body));
  };
  if (request.url === "/healthz") return json(200, { ok: true });
  if (request.method === "GET" && request.url === "/api/me") {
    if (request.headers.authorization === `Bearer ${GOOD_KEY}`) {
      return json(200, { data: { id: "acct_e2e", name: "Acme E2E Support" } });
    }
    return json(401, { error: "invalid token" });
  }
  json(404, { error: "not found" });
}).listen(port, "127.0.0.1");
