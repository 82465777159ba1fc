// Starts GraphiQL on the page the gateway serves at its GraphQL endpoint. A file,
// not an inline script, so the page's Content-Security-Policy needs no
// 'unsafe-inline'.
(function () {
  "use strict";

  var DEFAULT_QUERY = [
    "# Studio Gateway: flows,",
    "# executions and steps in one",
    "# query. Ctrl-Enter runs it;",
    "# the book icon opens the docs.",
    "#",
    "# Authentication on? Add",
    '#   { "X-API-Key": "…" }',
    "# under Headers below.",
    "",
    "{",
    "  flows(first: 5) {",
    "    nodes {",
    "      sid",
    "      friendlyName",
    "      status",
    "      executions(first: 3) {",
    "        nodes {",
    "          sid",
    "          status",
    "          dateCreated",
    "        }",
    "      }",
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");

  // This page is served at the endpoint itself, under whatever root path a proxy
  // adds: GraphiQL asks the same URL, without the page's query string.
  var endpoint = window.location.origin + window.location.pathname;
  // Subscriptions go over graphql-transport-ws at the same URL; what the Headers
  // editor holds (an X-API-Key, an Authorization) goes in connection_init.
  var subscriptions = endpoint.replace(/^http/, "ws");

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: GraphiQL.createFetcher({ url: endpoint, subscriptionUrl: subscriptions }),
      plugins: [GraphiQLPluginExplorer.explorerPlugin()],
      defaultQuery: DEFAULT_QUERY,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      inputValueDeprecation: true,
    }),
  );
})();
