// A real MCP client (the official TypeScript SDK) for the server tests:
// connects to MCP_URL with the token in MCP_TOKEN over Streamable HTTP,
// lists the tools and resources, searches for MCP_QUERY, reads the first
// hit back with get_record and the first resource, and prints what it got
// as one JSON object. A refused connection prints {"refused": "..."}.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const url = new URL(process.env.MCP_URL);
const headers = process.env.MCP_TOKEN ? { Authorization: `Bearer ${process.env.MCP_TOKEN}` } : {};
const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers } });
const client = new Client({ name: "patchbay-test-client", version: "1.0.0" });

const text = (result) => result.content.map((c) => c.text).join("");

try {
  await client.connect(transport);
} catch (error) {
  console.log(JSON.stringify({ refused: String(error?.message ?? error) }));
  process.exit(0);
}
const out = {};
out.server = client.getServerVersion();
out.tools = (await client.listTools()).tools.map((t) => t.name).sort();
const search = await client.callTool({ name: "search_records", arguments: { query: process.env.MCP_QUERY, limit: 5 } });
out.search = { isError: Boolean(search.isError), body: JSON.parse(text(search)) };
const first = out.search.body.results[0]?.record;
if (first) {
  const got = await client.callTool({
    name: "get_record",
    arguments: { provider: first.provider, entity_type: first.entity_type, entity_id: first.entity_id },
  });
  out.record = { isError: Boolean(got.isError), body: JSON.parse(text(got)) };
}
const missing = await client.callTool({
  name: "get_record",
  arguments: { provider: "sandbox", entity_type: "item", entity_id: process.env.MCP_FOREIGN_ID ?? "none" },
});
out.foreign = { isError: Boolean(missing.isError), text: text(missing) };
const connections = await client.callTool({ name: "list_connections", arguments: {} });
out.connections = JSON.parse(text(connections));
const status = await client.callTool({ name: "sync_status", arguments: { provider: "sandbox" } });
out.status = { isError: Boolean(status.isError), body: status.isError ? text(status) : JSON.parse(text(status)) };
out.resources = (await client.listResources()).resources.map((r) => ({ uri: r.uri, name: r.name }));
if (out.resources[0]) {
  const read = await client.readResource({ uri: out.resources[0].uri });
  out.resource = JSON.parse(read.contents[0].text);
}
await client.close();
console.log(JSON.stringify(out));
