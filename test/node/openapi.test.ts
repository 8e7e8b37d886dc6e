import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ETAG } from "../../src/api/etags";
import { ERROR_STATUS } from "../../src/http/errors";
import { VERSION } from "../../src/version";

/**
 * docs/openapi.json against the code: the same (method, path) pairs as the route table in
 * src/index.ts, a success and (unless public) a 401 on every operation, every `$ref`
 * resolving, every error code documented with its status. Adding a route without
 * documenting it fails here. (JSON rather than YAML: no YAML parser is installed.)
 */

type Json = unknown;
interface Operation {
  security?: Array<Record<string, string[]>>;
  parameters?: Array<Json>;
  responses?: Record<string, Json>;
}
interface Spec {
  openapi: string;
  info: { version: string };
  security?: Array<Record<string, string[]>>;
  paths: Record<string, Record<string, Json>>;
  components: Record<string, Record<string, Json>>;
}

const root = new URL("../../", import.meta.url);
const spec = JSON.parse(readFileSync(new URL("docs/openapi.json", root), "utf8")) as Spec;
const indexSource = readFileSync(new URL("src/index.ts", root), "utf8");

const HTTP_METHODS = ["get", "head", "put", "post", "delete", "patch", "options", "trace"];

/** `/api/files/:name+` → `/api/files/{name}` */
const toOpenApiPath = (itty: string) => itty.replace(/:([A-Za-z_$][\w$]*)\+?/g, "{$1}");

/** The `routes` table of src/index.ts, read as text: "METHOD path" for every entry. */
function routeTable(source: string): string[] {
  const block = /const routes\b[^=]*=\s*\[([\s\S]*?)\n\];/.exec(source)?.[1];
  if (!block) throw new Error("src/index.ts has no `const routes = [ … ];` table");
  const entries = [...block.matchAll(/\[\s*["']([^"']+)["']\s*,\s*\{([^}]*)\}/g)];
  // Every entry must be of the parsed shape, or a route could slip past this test.
  expect(entries.length, 'route entries parsed vs. `["/…"` openings in the table').toBe(block.match(/\[\s*["']\//g)?.length);
  const pairs: string[] = [];
  for (const [, path = "", methods = ""] of entries) {
    const names = [...methods.matchAll(/\b([A-Z]+)\s*:/g)].map((m) => m[1]);
    expect(names.length, `methods of ${path}`).toBeGreaterThan(0);
    for (const method of names) pairs.push(`${method} ${toOpenApiPath(path)}`);
  }
  return pairs;
}

function operations(): Array<{ id: string; path: string; op: Operation }> {
  const out: Array<{ id: string; path: string; op: Operation }> = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (HTTP_METHODS.includes(method)) out.push({ id: `${method.toUpperCase()} ${path}`, path, op: op as Operation });
    }
  }
  return out;
}

/** Resolves a local JSON pointer (`#/components/…`), or undefined. */
function resolve(pointer: string): Json {
  if (!pointer.startsWith("#/")) return undefined;
  let node: Json = spec;
  for (const raw of pointer.slice(2).split("/")) {
    const key = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    if (node === null || typeof node !== "object" || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, Json>)[key];
  }
  return node;
}

/** A response or parameter, following one level of `$ref`. */
function deref<T>(node: Json): T {
  const ref = (node as { $ref?: string }).$ref;
  return (ref ? resolve(ref) : node) as T;
}

function allRefs(node: Json, at: string, out: Array<{ ref: string; at: string }> = []) {
  if (Array.isArray(node)) node.forEach((n, i) => allRefs(n, `${at}/${i}`, out));
  else if (node !== null && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") out.push({ ref: v, at });
      else allRefs(v, `${at}/${k}`, out);
    }
  }
  return out;
}

const isPublic = (op: Operation) =>
  (op.security ?? spec.security ?? []).length === 0 || op.security?.some((s) => Object.keys(s).length === 0);

describe("docs/openapi.json", () => {
  it("is OpenAPI 3.1 at the peer's version, bearer by default", () => {
    expect(spec.openapi).toMatch(/^3\.1\.\d+$/);
    expect(spec.info.version).toBe(VERSION);
    expect(spec.security).toEqual([{ bearer: [] }]);
    expect(spec.components.securitySchemes?.bearer).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it("documents exactly the routes of src/index.ts", () => {
    const code = routeTable(indexSource).sort();
    expect(code.length).toBeGreaterThan(20);
    expect(new Set(code).size, "a (method, path) pair twice in the route table").toBe(code.length);
    const documented = operations()
      .map((o) => o.id.replace(/^(\w+)/, (m) => m.toUpperCase()))
      .sort();
    expect(documented).toEqual(code);
  });

  it("lists every mount of src/index.ts (a prefix served whole, like /dav) under x-mounts", () => {
    const block = /const mounts\b[^=]*=\s*\[([\s\S]*?)\n\];/.exec(indexSource)?.[1] ?? "";
    const prefixes = [...block.matchAll(/\[\s*["']([^"']+)["']\s*,/g)].map((m) => m[1]).sort();
    expect(prefixes).toContain("/dav");
    const mounts = (spec as unknown as { "x-mounts"?: Record<string, { methods: string[] }> })["x-mounts"] ?? {};
    expect(Object.keys(mounts).sort()).toEqual(prefixes);
    expect(mounts["/dav"]?.methods).toEqual(expect.arrayContaining(["PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK"]));
  });

  it("declares every path parameter of every path", () => {
    for (const { id, path, op } of operations()) {
      const item = spec.paths[path] as { parameters?: Json[] };
      const declared = [...(item.parameters ?? []), ...(op.parameters ?? [])]
        .map((p) => deref<{ name: string; in: string; required?: boolean }>(p))
        .filter((p) => p.in === "path");
      const inTemplate = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      expect(declared.map((p) => p.name).sort(), id).toEqual(inTemplate);
      for (const p of declared) expect(p.required, `${id}: path parameter ${p.name}`).toBe(true);
    }
  });

  it("gives every operation a success, and a 401 unless it is public", () => {
    for (const { id, op } of operations()) {
      const statuses = Object.keys(op.responses ?? {});
      expect(
        statuses.some((s) => /^[23]\d\d$/.test(s)),
        `${id} has no 2xx/3xx`,
      ).toBe(true);
      if (!isPublic(op)) expect(statuses, `${id} is not public but has no 401`).toContain("401");
    }
  });

  it("gives a 403 to every operation a scoped token may be refused (all but the public ones and /api/peers)", () => {
    // Routes any token may call, read from the route table: the rest refuse a scoped token outside its scope.
    const open = [...indexSource.matchAll(/\[\s*["']([^"']+)["']\s*,\s*\{[^}]*\}\s*,\s*(?:PUBLIC|ANY_TOKEN)\s*\]/g)].map((m) =>
      toOpenApiPath(m[1] as string),
    );
    expect(open).toContain("/api/peers");
    for (const { id, path, op } of operations()) {
      if (isPublic(op) || open.includes(path)) continue;
      expect(Object.keys(op.responses ?? {}), `${id} can refuse a scoped token but has no 403`).toContain("403");
    }
  });

  it("marks exactly health, the UI and its assets, and WebDAV discovery at the root public", () => {
    const publicOps = operations()
      .filter((o) => isPublic(o.op))
      .map((o) => o.id)
      .sort();
    expect(publicOps).toEqual(["GET /", "GET /api/health", "GET /assets/{file}", "HEAD /", "HEAD /assets/{file}", "OPTIONS /"]);
    // File GET/HEAD: bearer or the signed link.
    for (const m of ["get", "head"]) {
      const op = spec.paths["/api/files/{name}"]?.[m] as Operation;
      expect(op.security).toContainEqual({ bearer: [] });
      expect(op.security?.some((s) => "signedLinkSig" in s && "signedLinkExpires" in s)).toBe(true);
    }
  });

  it("resolves every $ref", () => {
    const refs = allRefs(spec, "#");
    expect(refs.length).toBeGreaterThan(50);
    const broken = refs.filter((r) => resolve(r.ref) === undefined).map((r) => `${r.at}: ${r.ref}`);
    expect(broken).toEqual([]);
  });

  it("gives a copy's sourceEtag the peer's own etag pattern", () => {
    const meta = spec.components.schemas?.FileMeta as { properties?: Record<string, { pattern?: string }> };
    expect(meta.properties?.sourceEtag?.pattern).toBe(ETAG.source);
  });

  it("knows every error code of src/http/errors.ts, each under its status", () => {
    const codes = Object.keys(ERROR_STATUS).sort();
    expect([...((spec.components.schemas?.ErrorCode as { enum?: string[] } | undefined)?.enum ?? [])].sort()).toEqual(codes);

    const examplesOf = (response: Json) =>
      Object.values(
        (response as { content?: Record<string, { examples?: Record<string, { value: { error: { code: string } } }> }> }).content?.[
          "application/json"
        ]?.examples ?? {},
      ).map((e) => e.value.error.code as keyof typeof ERROR_STATUS);

    // One reusable response per code.
    const reusable = Object.values(spec.components.responses ?? {}).flatMap(examplesOf);
    for (const code of codes) expect(reusable, `components.responses for ${code}`).toContain(code);

    // Wherever an error response is used, its codes carry that status.
    for (const { id, op } of operations()) {
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        for (const code of examplesOf(deref(response))) {
          expect(String(ERROR_STATUS[code]), `${id} ${status}: ${code}`).toBe(status);
        }
      }
    }
  });
});
