// node introspection.mjs URL: send graphql-js's standard introspection query, in
// each variant tools send, to URL/graphql; build a client schema from each answer.
// Prints {variant: {errors} | {queryType, mutationType, types, sdl}} as JSON.
import { buildClientSchema, getIntrospectionQuery, printSchema } from "graphql";

const endpoint = new URL("graphql", process.argv[2].replace(/\/?$/, "/"));

const ALL = {
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
  oneOf: true,
};
const variants = {
  default: {},
  all: ALL,
  noDescriptions: { ...ALL, descriptions: false },
  ...Object.fromEntries(Object.keys(ALL).map((option) => [option, { [option]: true }])),
};

const results = {};
for (const [name, options] of Object.entries(variants)) {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({
      query: getIntrospectionQuery(options),
      operationName: "IntrospectionQuery",
    }),
  });
  const body = await response.json();
  if (response.status !== 200 || body.errors) {
    results[name] = { status: response.status, errors: body.errors ?? body };
    continue;
  }
  const schema = buildClientSchema(body.data);
  results[name] = {
    queryType: schema.getQueryType()?.name ?? null,
    mutationType: schema.getMutationType()?.name ?? null,
    types: Object.keys(schema.getTypeMap()).filter((type) => !type.startsWith("__")),
    sdl: printSchema(schema),
    cost: body.extensions?.cost ?? null,
  };
}
process.stdout.write(JSON.stringify(results));
