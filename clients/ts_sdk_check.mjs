// The TypeScript SDK against flowmcp: list tools, run and spin a real flow over stdio and over
// HTTP, and check every structuredContent against the tool's own outputSchema.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [mode, target, flow] = process.argv.slice(2); // stdio <project dir> <flow> | http <url> <flow>

function checkAgainst(schema, value, path = "$") {
  // The subset of JSON Schema pydantic emits: type, properties, required, items, anyOf, enum, $ref.
  if (!schema) return;
  if (schema.$ref) schema = resolve(schema.$ref);
  if (schema.anyOf) {
    const errors = schema.anyOf.map((s) => { try { checkAgainst(s, value, path); return null; } catch (e) { return e; } });
    if (errors.every((e) => e)) throw new Error(`${path}: matches none of anyOf`);
    return;
  }
  if (schema.enum && !schema.enum.includes(value)) throw new Error(`${path}: ${value} not in enum`);
  const types = { object: (v) => v && typeof v === "object" && !Array.isArray(v), array: Array.isArray,
    string: (v) => typeof v === "string", integer: Number.isInteger, number: (v) => typeof v === "number",
    boolean: (v) => typeof v === "boolean", null: (v) => v === null };
  if (schema.type && !types[schema.type](value)) throw new Error(`${path}: expected ${schema.type}, got ${JSON.stringify(value)}`);
  if (schema.type === "object") {
    for (const key of schema.required || []) if (!(key in value)) throw new Error(`${path}: missing ${key}`);
    for (const [key, sub] of Object.entries(schema.properties || {})) if (key in value) checkAgainst(sub, value[key], `${path}.${key}`);
  }
  if (schema.type === "array") value.forEach((item, i) => checkAgainst(schema.items, item, `${path}[${i}]`));
}
let defs = {};
const resolve = (ref) => defs[ref.split("/").pop()];

const transport = mode === "stdio"
  ? new StdioClientTransport({ command: "flowmcp", args: ["--root", target], env: { ...process.env } })
  : new StreamableHTTPClientTransport(new URL(target));
const client = new Client({ name: "flowmcp-ts-check", version: "1.0.0" });
await client.connect(transport);
const { tools } = await client.listTools();
const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
for (const name of ["run", "spin", "inspect_artifact", "list_runs"]) if (!byName[name]) throw new Error(`no tool ${name}`);

async function call(name, args) {
  const result = await client.callTool({ name, arguments: args });
  if (result.isError) throw new Error(`${name} answered isError: ${result.content?.[0]?.text}`);
  defs = byName[name].outputSchema.$defs || {};
  checkAgainst(byName[name].outputSchema, result.structuredContent);
  return result;
}
const run = await call("run", { flow });
const pathspec = run.structuredContent.pathspec;
await call("spin", { flow, step: "train" });
await call("list_runs", { flow });
await call("inspect_artifact", { pathspec: `${pathspec}/join`, name: "models" });
console.log(`TypeScript SDK over ${mode}: ${tools.length} tools; run ${pathspec}, spin, list_runs, inspect_artifact match their output schemas`);
await client.close();
