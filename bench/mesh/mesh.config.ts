// Variant B ("linked"): the same generated OpenAPI subgraph, plus hand-written
// additionalTypeDefs with Mesh's @resolveTo so a client can nest
// flow -> executions -> steps -> step context in one GraphQL request.
// The spec itself carries these relations only as Twilio's private
// `x-twilio.dependentProperties` and as opaque `links` URLs, which Mesh ignores.
import { defineConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

const port = process.env.UPSTREAM_PORT || '8701';

export const composeConfig = defineConfig({
  output: 'supergraph.graphql',
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph('Studio', {
        source: './studio_v2.local.json',
        endpoint: `http://127.0.0.1:${port}`,
        operationHeaders: { Authorization: 'Basic {env.STUDIO_BASIC_AUTH}' },
      }),
    },
  ],
  additionalTypeDefs: /* GraphQL */ `
    extend type studio_v2_flow {
      executions(PageSize: BigInt): ListExecutionResponse
        @resolveTo(
          sourceName: "Studio"
          sourceTypeName: "Query"
          sourceFieldName: "ListExecution"
          requiredSelectionSet: "{ sid }"
          sourceArgs: { FlowSid: "{root.sid}", PageSize: "{args.PageSize}" }
        )
    }
    extend type studio_v2_flow_execution {
      steps(PageSize: BigInt): ListExecutionStepResponse
        @resolveTo(
          sourceName: "Studio"
          sourceTypeName: "Query"
          sourceFieldName: "ListExecutionStep"
          requiredSelectionSet: "{ sid flow_sid }"
          sourceArgs: { FlowSid: "{root.flow_sid}", ExecutionSid: "{root.sid}", PageSize: "{args.PageSize}" }
        )
    }
    extend type studio_v2_flow_execution_execution_step {
      step_context: studio_v2_flow_execution_execution_step_execution_step_context
        @resolveTo(
          sourceName: "Studio"
          sourceTypeName: "Query"
          sourceFieldName: "FetchExecutionStepContext"
          requiredSelectionSet: "{ sid flow_sid execution_sid }"
          sourceArgs: { FlowSid: "{root.flow_sid}", ExecutionSid: "{root.execution_sid}", StepSid: "{root.sid}" }
        )
    }
  `,
});
