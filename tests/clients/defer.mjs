// Run one operation through Apollo Client's HttpLink against a gateway and
// print what the client got, as JSON on stdout:
//   {"accept": <the Accept header Apollo sent>, "results": [<each result, as
//   the link delivered it>], "merged": <the data, merged the way Apollo
//   Client's QueryManager merges @defer parts>}
//
// Usage: node defer.mjs '{"url": "http://127.0.0.1:8000/graphql",
//                         "query": "...", "variables": {...}}'
// Exits non-zero, with the reason on stderr, when the link reports an error.

import { execute } from "@apollo/client/link/core/index.js";
import { HttpLink } from "@apollo/client/link/http/index.js";
import { mergeIncrementalData } from "@apollo/client/utilities/index.js";
import { parse } from "graphql";

const { url, query, variables } = JSON.parse(process.argv[2]);

let accept = null;
const link = new HttpLink({
  uri: url,
  fetch: (input, init) => {
    accept = init.headers.accept ?? null;
    return fetch(input, init);
  },
});

const results = [];
let merged = null;

execute(link, { query: parse(query), variables }).subscribe({
  next(result) {
    results.push(result);
    merged = "incremental" in result ? mergeIncrementalData(merged, result) : result.data;
  },
  error(error) {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exit(1);
  },
  complete() {
    process.stdout.write(JSON.stringify({ accept, results, merged }));
  },
});
