// One Apollo Client 4 for the page: queries and mutations over HTTP (multipart for
// @defer), subscriptions over graphql-ws, on the same /graphql URL.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { Defer20220824Handler } from "@apollo/client/incremental";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { getMainDefinition, relayStylePagination } from "@apollo/client/utilities";
import { OperationTypeNode } from "graphql";
import { createClient } from "graphql-ws";

export function makeClient(gateway, apiKey) {
  const headers = apiKey ? { "X-API-Key": apiKey } : {};
  const http = new HttpLink({ uri: `${gateway}/graphql`, headers });
  const ws = new GraphQLWsLink(
    createClient({
      url: `${gateway.replace(/^http/, "ws")}/graphql`,
      // The gateway authenticates a WebSocket by connection_init's payload.
      connectionParams: apiKey ? { "X-API-Key": apiKey } : {},
    }),
  );
  const isSubscription = ({ query }) => {
    const definition = getMainDefinition(query);
    return (
      definition.kind === "OperationDefinition" &&
      definition.operation === OperationTypeNode.SUBSCRIPTION
    );
  };
  return new ApolloClient({
    link: ApolloLink.split(isSubscription, ws, http),
    cache: new InMemoryCache({
      typePolicies: {
        // flows(first, after) pages are one list: fetchMore appends the next page.
        Query: { fields: { flows: relayStylePagination() } },
        Flow: { keyFields: ["sid"] },
        Execution: { keyFields: ["sid"] },
        ExecutionStep: { keyFields: ["sid"] },
      },
    }),
    // Apollo Client 4 reads @defer only with an incremental handler; the gateway
    // speaks deferSpec=20220824, the format this handler reads.
    incrementalHandler: new Defer20220824Handler(),
    // Sent as apollographql-client-name/-version (the gateway's CORS allows them).
    clientAwareness: { name: "studio-gateway-react-example", version: "1.0.0" },
  });
}
