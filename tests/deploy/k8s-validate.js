#!/usr/bin/env node
// Validates Kubernetes objects against the Kubernetes OpenAPI schemas, offline.
//
//   node k8s-validate.js < objects.json
//
// stdin: a JSON array of objects (e.g. `kubectl kustomize` output, parsed).
// stdout: one JSON line per object: {"ref": "apps/v1 DaemonSet ns/name",
//   "ok": true|false, "errors": ["/spec/...: message", ...]}.
// Exit status: 0 when every object is valid, 1 when any is not (or has no
// schema), 2 on bad input.
//
// Schemas: the package kubernetes-models (4.3.x, generated from Kubernetes
// v1.27.1's OpenAPI spec, enums restored) registers each definition with
// @kubernetes-models/validate's register(); we collect them from there and
// compile them with our own Ajv. A CustomResourceDefinition among the input
// objects (validated itself as apiextensions.k8s.io/v1) also gives the schema
// of its resources: every served version's openAPIV3Schema validates the input
// objects of that group, version and kind. Like kubeconform -strict, every object schema
// that lists its properties and says nothing of others gets
// additionalProperties: false, so a misspelt or misplaced field (which the
// API server would drop or reject) is an error here too.
"use strict";

const fs = require("fs");
const path = require("path");
const Ajv = require("ajv");
const addFormats = require("ajv-formats");

const modelsDir = path.dirname(require.resolve("kubernetes-models/package.json"));
const machineryDir = path.dirname(
  require.resolve("@kubernetes-models/apimachinery/package.json", { paths: [modelsDir] }));
const validatePkg = require(
  require.resolve("@kubernetes-models/validate", { paths: [modelsDir] }));

// kubernetes-models drops every "description" from the OpenAPI spec, and with
// them the one JSONSchemaProps (a CRD's schema) has as a field; the API server
// takes it (`kubectl explain` shows it): put it back.
const JSON_SCHEMA_PROPS = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps";

function collectSchemas() {
  const schemas = new Map();
  validatePkg.register = (id, schema) => { schemas.set(id, schema); };
  for (const dir of [path.join(machineryDir, "_schemas"), path.join(modelsDir, "_schemas")]) {
    for (const f of fs.readdirSync(dir)) {
      if (f.endsWith(".js")) require(path.join(dir, f)).addSchema();
    }
  }
  const props = schemas.get(JSON_SCHEMA_PROPS);
  if (props && props.properties && !props.properties.description)
    props.properties.description = { type: "string", nullable: true };
  return schemas;
}

// Deep copy with additionalProperties: false wherever properties are listed
// and nothing is said about others.
function strict(node) {
  if (Array.isArray(node)) return node.map(strict);
  if (!node || typeof node !== "object") return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    // Under "properties" the keys are field names, not schema keywords.
    out[k] = k === "properties"
      ? Object.fromEntries(Object.entries(v).map(([f, s]) => [f, strict(s)]))
      : strict(v);
  }
  if (out.properties && out.additionalProperties === undefined &&
      out.patternProperties === undefined &&
      !out["x-kubernetes-preserve-unknown-fields"]) {
    out.additionalProperties = false;
  }
  return out;
}

function buildValidator() {
  const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
  addFormats(ajv);
  // Kubernetes formats that are not JSON Schema's. Quantity ("500m", "64Mi")
  // is checked by the API server's own grammar; these are shape checks.
  ajv.addFormat("int-or-string", true);
  ajv.addFormat("quantity", /^[+-]?(\d+\.?\d*|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$/);
  const byGvk = new Map();
  for (const [id, schema] of collectSchemas()) {
    ajv.addSchema(strict(schema), id);
    const p = schema.properties || {};
    const av = p.apiVersion && p.apiVersion.enum;
    const kind = p.kind && p.kind.enum;
    if (av && kind && av.length === 1 && kind.length === 1) byGvk.set(`${av[0]} ${kind[0]}`, id);
  }
  return { ajv, byGvk };
}

// Ajv reports each failed oneOf branch; {"type": "null"} branches (the
// spec's "nullable") only add noise next to the real error.
function messages(errors) {
  return errors
    .filter((e) => !(e.keyword === "type" && e.params.type === "null"))
    .filter((e) => e.keyword !== "oneOf")
    .map((e) => {
      const where = e.instancePath || "/";
      if (e.keyword === "additionalProperties") {
        return `${where}: unknown field "${e.params.additionalProperty}"`;
      }
      if (e.keyword === "enum") {
        return `${where}: must be one of ${JSON.stringify(e.params.allowedValues)}`;
      }
      return `${where}: ${e.message}`;
    });
}

// The schemas of the custom resources that CRDs among the objects define.
function addCrdSchemas(ajv, byGvk, objects) {
  for (const crd of objects) {
    if (!crd || crd.apiVersion !== "apiextensions.k8s.io/v1" ||
        crd.kind !== "CustomResourceDefinition" || !crd.spec) continue;
    for (const v of crd.spec.versions || []) {
      const schema = v.schema && v.schema.openAPIV3Schema;
      if (!v.served || !schema) continue;
      const gvk = `${crd.spec.group}/${v.name} ${crd.spec.names.kind}`;
      const id = `crd:${gvk}`;
      ajv.addSchema(strict(schema), id);
      byGvk.set(gvk, id);
    }
  }
}

function main() {
  let objects;
  try {
    objects = JSON.parse(fs.readFileSync(0, "utf8"));
    if (!Array.isArray(objects)) throw new Error("expected a JSON array of objects");
  } catch (e) {
    process.stderr.write(`k8s-validate: bad input: ${e.message}\n`);
    return 2;
  }
  const { ajv, byGvk } = buildValidator();
  addCrdSchemas(ajv, byGvk, objects);
  let bad = 0;
  for (const obj of objects) {
    const md = (obj && obj.metadata) || {};
    const ref = `${obj && obj.apiVersion} ${obj && obj.kind} ` +
      `${md.namespace ? md.namespace + "/" : ""}${md.name}`;
    const id = byGvk.get(`${obj && obj.apiVersion} ${obj && obj.kind}`);
    let errors = [];
    if (!id) {
      errors = [`no schema for apiVersion ${obj && obj.apiVersion} kind ${obj && obj.kind}`];
    } else {
      const validate = ajv.getSchema(id);
      if (!validate(obj)) errors = [...new Set(messages(validate.errors))];
    }
    if (errors.length) bad++;
    process.stdout.write(JSON.stringify({ ref, ok: errors.length === 0, errors }) + "\n");
  }
  return bad ? 1 : 0;
}

process.exitCode = main();
