// Reads a JSON array of custom resources on stdin and validates each against its CRD's schema
// (the @kubernetes-models packages); prints {"<kind>/<name>": "<error>"|null} as JSON.
import * as keda from "@kubernetes-models/keda/keda.sh/v1alpha1";
import * as monitoring from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";

const models = {
  "keda.sh/v1alpha1": keda,
  "monitoring.coreos.com/v1": monitoring,
};

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = {};
for (const resource of JSON.parse(input)) {
  const key = `${resource.kind}/${resource.metadata.name}`;
  const Model = models[resource.apiVersion]?.[resource.kind];
  if (!Model) {
    results[key] = `no schema for ${resource.apiVersion} ${resource.kind}`;
    continue;
  }
  try {
    new Model(resource).validate();
    results[key] = null;
  } catch (error) {
    results[key] = error.message;
  }
}
console.log(JSON.stringify(results));
