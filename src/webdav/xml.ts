import { SaxesParser } from "saxes";
import { badRequest } from "../http/errors";

/**
 * WebDAV's XML, both ways. Requests are parsed by saxes (namespace-aware, pure JavaScript, runs
 * in workerd): it reads a DOCTYPE but never expands an entity the document declares — `&x;`
 * of a declared entity is an error — so no entity expansion ("billion laughs") or external
 * fetch can happen. Answers are built from typed nodes and escaped on the way out.
 */

export const DAV = "DAV:";

/** An element with its namespace resolved: `{uri}local`, attributes and children in order. */
export interface XmlElement {
  ns: string;
  local: string;
  attrs: Array<{ ns: string; local: string; value: string }>;
  children: XmlNode[];
}

export type XmlNode = XmlElement | string;

/** Most elements one request body may hold (a bound on the work a body can cause). */
const MAX_ELEMENTS = 10_000;
/** Deepest nesting accepted. */
const MAX_DEPTH = 64;

/** Parses a request body into its root element; malformed, not namespace-well-formed or over a bound is 400. */
export function parseXml(text: string): XmlElement {
  const parser = new SaxesParser({ xmlns: true, position: false });
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  let count = 0;
  let failure: string | null = null;
  parser.on("error", (err) => {
    failure ??= err.message;
  });
  parser.on("opentag", (tag) => {
    if (++count > MAX_ELEMENTS || stack.length >= MAX_DEPTH) {
      failure ??= "the XML body is too large or too deeply nested";
      return;
    }
    const attrs: XmlElement["attrs"] = [];
    for (const attr of Object.values(tag.attributes)) {
      // Namespace declarations are how the tree is written, not part of it.
      if (attr.prefix === "xmlns" || (attr.prefix === "" && attr.local === "xmlns")) continue;
      attrs.push({ ns: attr.uri, local: attr.local, value: attr.value });
    }
    const element: XmlElement = { ns: tag.uri ?? "", local: tag.local ?? tag.name, attrs, children: [] };
    stack.at(-1)?.children.push(element);
    stack.push(element);
  });
  parser.on("closetag", () => {
    const done = stack.pop();
    if (done && stack.length === 0) root ??= done;
  });
  const onText = (text: string) => {
    stack.at(-1)?.children.push(text);
  };
  parser.on("text", onText);
  parser.on("cdata", onText);
  try {
    parser.write(text).close();
  } catch (err) {
    failure ??= err instanceof Error ? err.message : String(err);
  }
  if (failure !== null) throw badRequest(`The XML body is malformed: ${failure}.`);
  if (!root) throw badRequest("The XML body has no root element.");
  return root;
}

/** Child elements of `el` (text between them dropped), optionally only `{ns}local` ones. */
export function childElements(el: XmlElement, ns?: string, local?: string): XmlElement[] {
  return el.children.filter((c): c is XmlElement => typeof c !== "string" && (ns === undefined || (c.ns === ns && c.local === local)));
}

/** The text content of an element and its descendants. */
export function textOf(el: XmlElement): string {
  return el.children.map((c) => (typeof c === "string" ? c : textOf(c))).join("");
}

/** `{ns}local`: one property's identity. */
export const clarkName = (ns: string, local: string) => `{${ns}}${local}`;

// --- building answers -----------------------------------------------------------------

/** An element to write: namespace, local name, attributes (no namespace), children. */
export interface OutElement {
  ns: string;
  local: string;
  attrs?: Record<string, string>;
  children?: OutNode[];
}
export type OutNode = OutElement | string;

/** A DAV: element. */
export const dav = (local: string, children: OutNode[] = []): OutElement => ({ ns: DAV, local, children });

/** An element of any namespace. */
export const el = (ns: string, local: string, children: OutNode[] = []): OutElement => ({ ns, local, children });

/** A parsed element as an element to write (a dead property's value goes back as it came). */
export function fromParsed(node: XmlNode): OutNode {
  if (typeof node === "string") return node;
  return {
    ns: node.ns,
    local: node.local,
    // Attributes in a namespace are kept with it written into the name by `renderXml`.
    attrs: Object.fromEntries(node.attrs.map((a) => [a.ns ? `{${a.ns}}${a.local}` : a.local, a.value])),
    children: node.children.map(fromParsed),
  };
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;" };

/** Text or an attribute value, escaped for XML. */
export const escapeXml = (s: string) => s.replace(/[&<>"\r]/g, (c) => ESCAPES[c] ?? c);

/**
 * Writes a document: `DAV:` as prefix `D` declared on the root, every other namespace given
 * a prefix (`ns1`, `ns2`…) declared on the element where it is first needed; the empty
 * namespace is written unprefixed (no default namespace is ever declared).
 */
export function renderXml(root: OutElement): string {
  const out: string[] = [XML_DECLARATION];
  writeNode(root, new Map(), out, true);
  return out.join("");
}

export const XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n';

/** An element inside a document whose root declared `D` for `DAV:` (a multistatus written in pieces). */
export function renderFragment(node: OutElement): string {
  const out: string[] = [];
  writeNode(node, new Map([[DAV, "D"]]), out, false);
  return out.join("");
}

function writeNode(node: OutNode, scope: ReadonlyMap<string, string>, out: string[], isRoot: boolean): void {
  if (typeof node === "string") {
    out.push(escapeXml(node));
    return;
  }
  const local = new Map(scope);
  const declarations: string[] = [];
  if (isRoot) {
    local.set(DAV, "D");
    declarations.push(' xmlns:D="DAV:"');
  }
  const prefixFor = (ns: string): string => {
    let prefix = local.get(ns);
    if (prefix === undefined) {
      prefix = `ns${local.size}`;
      local.set(ns, prefix);
      declarations.push(` xmlns:${prefix}="${escapeXml(ns)}"`);
    }
    return prefix;
  };
  const tag = node.ns === "" ? node.local : `${prefixFor(node.ns)}:${node.local}`;
  const attrs: string[] = [];
  for (const [name, value] of Object.entries(node.attrs ?? {})) {
    const qualified = /^\{(.*)\}(.+)$/.exec(name);
    const written = qualified ? `${prefixFor(qualified[1] ?? "")}:${qualified[2]}` : name;
    attrs.push(` ${written}="${escapeXml(value)}"`);
  }
  const children = node.children ?? [];
  out.push(`<${tag}${declarations.join("")}${attrs.join("")}`);
  if (children.length === 0) {
    out.push("/>");
    return;
  }
  out.push(">");
  for (const child of children) writeNode(child, local, out, false);
  out.push(`</${tag}>`);
}
