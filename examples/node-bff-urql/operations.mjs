// The only operations this backend-for-frontend sends. `npm run manifest` writes
// them as a persisted-query manifest, from which `studio-gateway safelist build`
// makes the gateway's safelist: the gateway then runs these and nothing else.
import { gql } from "@urql/core";

export const FLOWS = gql`
  query BffFlows {
    flows(first: 10) {
      nodes {
        sid
        friendlyName
        executions(first: 1) { nodes { sid status dateCreated } }
      }
    }
  }
`;

export const EXECUTION = gql`
  query BffExecution($flowSid: ID!, $sid: ID!) {
    execution(flowSid: $flowSid, sid: $sid) {
      sid
      status
      steps(first: 50) { nodes { name transitionedTo dateCreated } }
    }
  }
`;

export const OPERATIONS = { BffFlows: FLOWS, BffExecution: EXECUTION };
