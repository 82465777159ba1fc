// The page's settings come from its URL: ?gateway=http://127.0.0.1:8000&flow=FW…&key=…
import { ApolloProvider } from "@apollo/client/react";
import { createRoot } from "react-dom/client";

import { App } from "./App.jsx";
import { makeClient } from "./client.js";

const params = new URLSearchParams(window.location.search);
const gateway = params.get("gateway") ?? "http://127.0.0.1:8000";
const client = makeClient(gateway, params.get("key"));

createRoot(document.getElementById("root")).render(
  <ApolloProvider client={client}>
    <App liveFlow={params.get("flow")} />
  </ApolloProvider>,
);
