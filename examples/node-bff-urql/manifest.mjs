// Write the operations as Apollo's persisted-query manifest, hashed exactly as
// urql's persistedExchange hashes what it sends (SHA-256 of stringifyDocument).
//
//   node manifest.mjs [persisted-query-manifest.json]
//   studio-gateway safelist build persisted-query-manifest.json -o safelist.json
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";

import { stringifyDocument } from "@urql/core";
import { getOperationAST } from "graphql";

import { OPERATIONS } from "./operations.mjs";

const out = process.argv[2] ?? "persisted-query-manifest.json";
const operations = Object.entries(OPERATIONS).map(([name, document]) => {
  const body = stringifyDocument(document);
  return {
    id: createHash("sha256").update(body).digest("hex"),
    name,
    type: getOperationAST(document).operation,
    body,
  };
});
writeFileSync(
  out,
  `${JSON.stringify({ format: "apollo-persisted-query-manifest", version: 1, operations }, null, 2)}\n`,
);
console.log(`wrote ${out}: ${operations.length} operations`);
