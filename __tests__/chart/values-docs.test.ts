import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { apiChartDir, repoRoot } from "../helpers/helm";

interface SchemaNode {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  definitions?: Record<string, SchemaNode>;
}

const valuesText = readFileSync(path.join(apiChartDir, "values.yaml"), "utf8");
const values = parse(valuesText) as Record<string, unknown>;
const schema = JSON.parse(
  readFileSync(path.join(apiChartDir, "values.schema.json"), "utf8"),
) as SchemaNode;
const docs = readFileSync(path.join(repoRoot, "docs", "chart.md"), "utf8");
const chart = parse(readFileSync(path.join(apiChartDir, "Chart.yaml"), "utf8")) as {
  version: string;
  appVersion: string;
};

/** Keys of values.yaml down to leaves; an empty map or list is a leaf (a user fills it). */
function leafKeys(node: unknown, prefix = ""): string[] {
  if (node === null || typeof node !== "object" || Array.isArray(node)) return [prefix];
  const entries = Object.entries(node);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([key, value]) => leafKeys(value, prefix ? `${prefix}.${key}` : key));
}

function resolve(node: SchemaNode): SchemaNode {
  let current = node;
  while (current.$ref) {
    const name = current.$ref.replace("#/definitions/", "");
    const target = schema.definitions?.[name];
    if (!target) throw new Error(`unresolved $ref ${current.$ref}`);
    current = target;
  }
  return current;
}

function schemaAt(key: string): SchemaNode | undefined {
  let node: SchemaNode | undefined = schema;
  for (const part of key.split(".")) {
    node = node ? resolve(node).properties?.[part] : undefined;
  }
  return node;
}

/** Every schema node that declares properties, with where it is. */
function objectNodes(node: SchemaNode, at: string): [string, SchemaNode][] {
  const found: [string, SchemaNode][] = node.properties ? [[at, node]] : [];
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    found.push(...objectNodes(child, `${at}.${key}`));
  }
  if (node.items) found.push(...objectNodes(node.items, `${at}[]`));
  for (const [index, option] of (node.anyOf ?? []).entries()) {
    found.push(...objectNodes(option, `${at}|${index}`));
  }
  for (const [name, definition] of Object.entries(node.definitions ?? {})) {
    found.push(...objectNodes(definition, `#/definitions/${name}`));
  }
  return found;
}

const keys = leafKeys(values);
const documented = [...valuesText.matchAll(/^\s*## @param (\S+) \S/gm)].map((m) => m[1]);

describe("values.yaml, values.schema.json and docs/chart.md agree", () => {
  it("has keys to check", () => {
    expect(keys.length).toBeGreaterThan(50);
  });

  it("documents every key in values.yaml where it is defined, and nothing else", () => {
    expect([...documented].sort()).toEqual([...keys].sort());
  });

  it("types every key in the schema", () => {
    expect(keys.filter((key) => schemaAt(key) === undefined)).toEqual([]);
  });

  it("refuses unknown keys in every object of the chart's own", () => {
    const open = objectNodes(schema, "#")
      .filter(([, node]) => node.additionalProperties !== false)
      .map(([at]) => at);
    expect(open).toEqual([]);
  });

  it("lists every key in the docs/chart.md values table", () => {
    const rows = new Set([...docs.matchAll(/^\| `([^`]+)` +\|/gm)].map((m) => m[1]));
    expect(keys.filter((key) => !rows.has(key))).toEqual([]);
    expect([...rows].filter((row) => schemaAt(row) === undefined && row.includes("."))).toEqual([]);
  });

  it("keeps appVersion at the API's package version", () => {
    const api = JSON.parse(readFileSync(path.join(repoRoot, "api", "package.json"), "utf8")) as {
      version: string;
    };
    expect(chart.appVersion).toBe(api.version);
    expect(chart.version).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
