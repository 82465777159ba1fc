import { gql } from "@apollo/client";
import { useQuery, useSubscription } from "@apollo/client/react";
import { useEffect, useState } from "react";

// A nested query: flows, each with its latest executions. The gateway makes one
// upstream call per list page, all executions pages side by side.
const FLOWS = gql`
  query Flows($after: String) {
    flows(first: 2, after: $after) {
      edges {
        cursor
        node {
          sid
          friendlyName
          executions(first: 2) {
            nodes { sid status dateCreated }
          }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

// The execution at once; its steps (another upstream call) arrive in a later part.
const EXECUTION = gql`
  query Execution($flowSid: ID!, $sid: ID!) {
    execution(flowSid: $flowSid, sid: $sid) {
      sid
      status
      ... @defer {
        steps(first: 10) { nodes { sid name transitionedTo } }
      }
    }
  }
`;

// Each execution of a flow as it starts and as it ends.
const LIVE = gql`
  subscription Live($flowSid: ID!) {
    flowExecutions(flowSid: $flowSid) { sid status dateCreated }
  }
`;

function Flows({ onOpen, onFirst }) {
  const { data, loading, error, fetchMore } = useQuery(FLOWS);
  const first = data?.flows.edges[0]?.node.sid;
  useEffect(() => {
    if (first) onFirst(first);
  }, [first, onFirst]);
  if (error) return <p role="alert">Flows failed: {error.message}</p>;
  if (loading && !data) return <p className="muted">Loading flows…</p>;
  const { edges, pageInfo } = data.flows;
  return (
    <section>
      <h2>Flows</h2>
      <ul data-testid="flows">
        {edges.map(({ node: flow }) => (
          <li key={flow.sid} data-testid="flow">
            <strong>{flow.friendlyName}</strong>
            <ul>
              {flow.executions.nodes.map((execution) => (
                <li key={execution.sid}>
                  <button
                    data-testid="execution"
                    onClick={() => onOpen({ flowSid: flow.sid, sid: execution.sid })}
                  >
                    {execution.sid}
                  </button>{" "}
                  <span className="muted">{execution.status}</span>
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
      {pageInfo.hasNextPage && (
        <button
          data-testid="more"
          onClick={() => fetchMore({ variables: { after: pageInfo.endCursor } })}
        >
          More flows
        </button>
      )}
    </section>
  );
}

function Execution({ flowSid, sid }) {
  const { data, error } = useQuery(EXECUTION, { variables: { flowSid, sid } });
  if (error) return <p role="alert">Execution failed: {error.message}</p>;
  const execution = data?.execution;
  if (!execution) return <p className="muted">Loading {sid}…</p>;
  return (
    <section data-testid="detail">
      <h2>Execution {execution.sid}</h2>
      <p data-testid="status">{execution.status}</p>
      {execution.steps ? (
        <ol data-testid="steps">
          {execution.steps.nodes.map((step) => (
            <li key={step.sid}>
              {step.name} → {step.transitionedTo}
            </li>
          ))}
        </ol>
      ) : (
        <p className="muted" data-testid="steps-pending">Steps on their way…</p>
      )}
    </section>
  );
}

function Live({ flowSid }) {
  const [seen, setSeen] = useState([]);
  const { error } = useSubscription(LIVE, {
    variables: { flowSid },
    onData: ({ data }) => {
      const execution = data.data?.flowExecutions;
      if (execution) setSeen((before) => [execution, ...before].slice(0, 20));
    },
  });
  return (
    <section>
      <h2>Live executions of {flowSid}</h2>
      {error && <p role="alert">Subscription failed: {error.message}</p>}
      <ul data-testid="live">
        {seen.map((execution, index) => (
          <li key={`${execution.sid}-${execution.status}-${index}`} data-testid="live-execution">
            {execution.sid} {execution.status}
          </li>
        ))}
      </ul>
      {seen.length === 0 && <p className="muted">Waiting for executions…</p>}
    </section>
  );
}

// `liveFlow`: the flow whose executions are watched; by default the first one listed.
export function App({ liveFlow: chosen }) {
  const [open, setOpen] = useState(null);
  const [first, setFirst] = useState(null);
  const liveFlow = chosen ?? first;
  return (
    <main>
      <h1>Studio Gateway with Apollo Client 4</h1>
      <Flows onOpen={setOpen} onFirst={setFirst} />
      {open && <Execution {...open} />}
      {liveFlow && <Live flowSid={liveFlow} />}
    </main>
  );
}
