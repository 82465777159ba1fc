// A backend-for-frontend: a small JSON API for a mobile app, answered from Studio
// Gateway with urql. It sends persisted queries only (their SHA-256, never the
// text), as GET requests the gateway may answer from HTTP caches.
//
//   GATEWAY_URL=http://127.0.0.1:8000 GATEWAY_API_KEY=… PORT=3000 node bff.mjs
//   GET /flows                              each flow with its latest execution
//   GET /flows/{flowSid}/executions/{sid}   an execution and its steps
import { createServer } from "node:http";

import { Client, fetchExchange } from "@urql/core";
import { persistedExchange } from "@urql/exchange-persisted";

import { EXECUTION, FLOWS } from "./operations.mjs";

const gateway = process.env.GATEWAY_URL ?? "http://127.0.0.1:8000";
const apiKey = process.env.GATEWAY_API_KEY;
const port = Number(process.env.PORT ?? 3000);

const client = new Client({
  url: `${gateway}/graphql`,
  exchanges: [
    // With the gateway's safelist on, a hash is all it takes; never fall back to text.
    persistedExchange({ enforcePersistedQueries: true, preferGetForPersistedQueries: true }),
    fetchExchange,
  ],
  fetchOptions: () => ({ headers: apiKey ? { Authorization: `Bearer ${apiKey}` } : {} }),
  // Each request asks afresh: a BFF serves many users, so it keeps no document cache.
  requestPolicy: "network-only",
});

async function run(document, variables) {
  const result = await client.query(document, variables).toPromise();
  if (result.error) {
    const codes = result.error.graphQLErrors.map((e) => e.extensions?.code ?? "ERROR");
    const error = new Error(result.error.message);
    error.status = codes.includes("NOT_FOUND") ? 404 : 502;
    error.codes = codes.length ? codes : ["NETWORK"];
    throw error;
  }
  return result.data;
}

const routes = [
  [
    /^\/flows$/,
    async () => {
      const data = await run(FLOWS, {});
      return data.flows.nodes.map((flow) => ({
        sid: flow.sid,
        name: flow.friendlyName,
        latestExecution: flow.executions.nodes[0] ?? null,
      }));
    },
  ],
  [
    /^\/flows\/(FW[0-9a-f]{32})\/executions\/(FN[0-9a-f]{32})$/,
    async ([, flowSid, sid]) => {
      const { execution } = await run(EXECUTION, { flowSid, sid });
      return {
        sid: execution.sid,
        status: execution.status,
        steps: execution.steps.nodes.map((step) => ({ name: step.name, to: step.transitionedTo })),
      };
    },
  ],
];

function send(response, status, body) {
  response.writeHead(status, { "Content-Type": "application/json" });
  response.end(JSON.stringify(body));
}

const server = createServer(async (request, response) => {
  const path = new URL(request.url, "http://bff").pathname;
  for (const [pattern, handle] of routes) {
    const match = request.method === "GET" && path.match(pattern);
    if (match) {
      try {
        return send(response, 200, await handle(match));
      } catch (error) {
        return send(response, error.status ?? 500, { error: error.message, codes: error.codes });
      }
    }
  }
  send(response, 404, { error: "no such route" });
});

server.listen(port, "127.0.0.1", () => {
  console.log(`BFF on http://127.0.0.1:${port}, answering from ${gateway}`);
});
