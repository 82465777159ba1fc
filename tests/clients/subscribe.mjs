// Run one subscription through Apollo Client's GraphQLWsLink (graphql-ws over the
// `ws` WebSocket) against a gateway and print what the client got, as JSON on
// stdout: {"results": [<each result, as the link delivered it>], "completed": true}
//
// Usage: node subscribe.mjs '{"url": "ws://127.0.0.1:8000/graphql",
//                             "query": "...", "variables": {...},
//                             "connectionParams": {...}}'
// Exits non-zero, with the reason on stderr, when the link reports an error
// (a refused connection, a subscription that fails).

import { execute } from "@apollo/client/link/core/index.js";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions/index.js";
import { parse } from "graphql";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const { url, query, variables, connectionParams } = JSON.parse(process.argv[2]);

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: connectionParams ?? {},
  retryAttempts: 0,
  lazy: true,
});
const link = new GraphQLWsLink(client);
const results = [];

execute(link, { query: parse(query), variables }).subscribe({
  next(result) {
    results.push(result);
  },
  error(error) {
    const reason = error?.reason ?? error?.message ?? JSON.stringify(error);
    process.stderr.write(`subscription failed: ${error?.code ?? ""} ${reason}\n`);
    process.exit(1);
  },
  async complete() {
    await client.dispose();
    process.stdout.write(JSON.stringify({ results, completed: true }));
  },
});
