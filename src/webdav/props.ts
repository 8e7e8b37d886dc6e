import { intVar } from "../config";
import { readText } from "../http/body";
import { HttpError, badRequest, notFound } from "../http/errors";
import type { DavEntry } from "../storage/davTree";
import { DEFAULT_STORAGE_LIMIT_MB, storageUsage } from "../storage/quota";
import { type DavContext, guardWrite } from "./context";
import { activeLock, supportedLock } from "./locks";
import { baseName, hrefOf } from "./paths";
import type { DavLock, DeadProps, PropChange } from "./state";
import {
  DAV,
  type OutElement,
  type OutNode,
  XML_DECLARATION,
  type XmlElement,
  childElements,
  clarkName,
  dav,
  el,
  fromParsed,
  parseXml,
  renderFragment,
  renderXml,
} from "./xml";

/** Largest PROPFIND or PROPPATCH body read. */
const PROP_BODY_BYTES = 1024 * 1024;

/** The live properties `allprop` shows (RFC 4918 §15); the quota ones only when asked for (RFC 4331 §3). */
const ALLPROP_LIVE = [
  "creationdate",
  "displayname",
  "getcontentlength",
  "getcontenttype",
  "getetag",
  "getlastmodified",
  "lockdiscovery",
  "resourcetype",
  "supportedlock",
] as const;
const QUOTA = ["quota-available-bytes", "quota-used-bytes"] as const;
const LIVE = new Set<string>([...ALLPROP_LIVE, ...QUOTA]);

/** Whether `{ns}local` is a live property (a PROPPATCH may not change it). */
const isLive = (ns: string, local: string) => ns === DAV && LIVE.has(local);

type Request = { mode: "allprop"; include: XmlElement[] } | { mode: "propname" } | { mode: "prop"; props: XmlElement[] };

/** What a PROPFIND body asks for; an empty body is `allprop`. */
export function parsePropfind(text: string): Request {
  if (text.trim() === "") return { mode: "allprop", include: [] };
  const root = parseXml(text);
  if (root.ns !== DAV || root.local !== "propfind") throw badRequest("A PROPFIND body is a DAV:propfind element.");
  const [first] = childElements(root).filter((e) => e.ns === DAV);
  if (first?.local === "allprop") {
    const include = childElements(root, DAV, "include")[0];
    return { mode: "allprop", include: include ? childElements(include) : [] };
  }
  if (first?.local === "propname") return { mode: "propname" };
  if (first?.local === "prop") return { mode: "prop", props: childElements(first) };
  throw badRequest("A DAV:propfind holds DAV:allprop, DAV:propname or DAV:prop.");
}

/**
 * Quota of the peer from its storage counter (the `QUOTA` Durable Object), asked once per
 * request and only when a quota property is asked for. Room reserved by uploads in flight is
 * not available.
 */
class QuotaReader {
  private counted: Promise<{ used: number; available: number }> | null = null;
  constructor(private readonly c: DavContext) {}
  read() {
    this.counted ??= storageUsage(this.c.env).then(({ used, reserved }) => {
      const limit = intVar(this.c.env.STORAGE_LIMIT_MB, DEFAULT_STORAGE_LIMIT_MB) * 1024 * 1024;
      return { used, available: Math.max(0, limit - used - reserved) };
    });
    return this.counted;
  }
}

/** The value of a live property of `entry`, or undefined when it has none. */
async function liveProp(local: string, entry: DavEntry, locks: DavLock[], quota: QuotaReader): Promise<OutElement | undefined> {
  const folder = entry.kind === "folder";
  switch (local) {
    case "resourcetype":
      return dav("resourcetype", folder ? [dav("collection")] : []);
    case "displayname":
      return entry.name === "" ? undefined : dav("displayname", [baseName(entry.name)]);
    case "getcontentlength":
      return folder ? undefined : dav("getcontentlength", [String(entry.size)]);
    case "getcontenttype":
      return folder ? undefined : dav("getcontenttype", [entry.contentType]);
    case "getetag":
      return folder ? undefined : dav("getetag", [entry.etag]);
    case "getlastmodified":
      return entry.modified ? dav("getlastmodified", [entry.modified.toUTCString()]) : undefined;
    case "creationdate":
      // R2 keeps one time per object: when this version was stored.
      return entry.modified ? dav("creationdate", [entry.modified.toISOString()]) : undefined;
    case "supportedlock":
      return supportedLock();
    case "lockdiscovery":
      return dav(
        "lockdiscovery",
        locks.map((l) => activeLock(l, folder && l.root === entry.name)),
      );
    case "quota-used-bytes":
      return dav("quota-used-bytes", [String((await quota.read()).used)]);
    case "quota-available-bytes":
      return dav("quota-available-bytes", [String((await quota.read()).available)]);
    default:
      return undefined;
  }
}

/** One `DAV:response` of a multistatus: the entry's href and its properties grouped by status. */
async function describe(entry: DavEntry, ask: Request, dead: DeadProps, locks: DavLock[], quota: QuotaReader): Promise<OutElement> {
  const found: OutNode[] = [];
  const missing: OutNode[] = [];
  if (ask.mode === "propname") {
    for (const local of ALLPROP_LIVE) if ((await liveProp(local, entry, locks, quota)) !== undefined) found.push(dav(local));
    for (const value of Object.values(dead)) if (typeof value !== "string") found.push(el(value.ns, value.local));
  } else if (ask.mode === "allprop") {
    for (const local of ALLPROP_LIVE) {
      const value = await liveProp(local, entry, locks, quota);
      if (value) found.push(value);
    }
    found.push(...Object.values(dead));
    for (const extra of ask.include) {
      if (extra.ns === DAV && (QUOTA as readonly string[]).includes(extra.local)) {
        const value = await liveProp(extra.local, entry, locks, quota);
        if (value) found.push(value);
      }
    }
  } else {
    for (const prop of ask.props) {
      const value =
        prop.ns === DAV && LIVE.has(prop.local) ? await liveProp(prop.local, entry, locks, quota) : dead[clarkName(prop.ns, prop.local)];
      if (value) found.push(value);
      else missing.push(el(prop.ns, prop.local));
    }
  }
  const propstats: OutNode[] = [];
  if (found.length || missing.length === 0) propstats.push(propstat(found, "200 OK"));
  if (missing.length) propstats.push(propstat(missing, "404 Not Found"));
  return dav("response", [dav("href", [hrefOf(entry.name, entry.kind === "folder")]), ...propstats]);
}

const propstat = (props: OutNode[], status: string) => dav("propstat", [dav("prop", props), dav("status", [`HTTP/1.1 ${status}`])]);

const MULTISTATUS_HEADERS = { "content-type": "application/xml; charset=utf-8" };

/**
 * `PROPFIND` with Depth 0 or 1 (infinity is refused, as RFC 4918 §9.1 allows: a whole bucket
 * in one answer has no bound). A folder's members are described a listing page at a time and
 * streamed, so a large folder never sits whole in memory.
 */
export async function propfind(c: DavContext): Promise<Response> {
  c.access.require("read", c.name);
  const depth = c.request.headers.get("depth")?.trim().toLowerCase() ?? "infinity";
  if (depth !== "0" && depth !== "1") {
    throw new HttpError("forbidden", "PROPFIND with Depth: infinity is refused (DAV:propfind-finite-depth); ask for Depth 0 or 1.");
  }
  const ask = parsePropfind(await readText(c.request, PROP_BODY_BYTES, "PROPFIND body"));
  const entry = await c.tree.stat(c.name);
  if (!entry) throw notFound(`No file or folder "${c.name}".`);
  c.access.require("read", c.name, entry.kind);
  const quota = new QuotaReader(c);

  const describePage = async (entries: DavEntry[]) => {
    const names = entries.map((e) => e.name);
    const [dead, locks] = await Promise.all([c.state.props(names), c.state.locksOn(names)]);
    const out: string[] = [];
    for (const e of entries) out.push(renderFragment(await describe(e, ask, dead[e.name] ?? {}, locks[e.name] ?? [], quota)));
    return out.join("");
  };

  const first = await describePage([entry]);
  if (depth === "0" || entry.kind !== "folder") {
    return new Response(`${XML_DECLARATION}<D:multistatus xmlns:D="DAV:">${first}</D:multistatus>`, {
      status: 207,
      headers: MULTISTATUS_HEADERS,
    });
  }
  const pages = c.tree.children(entry.name);
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(`${XML_DECLARATION}<D:multistatus xmlns:D="DAV:">${first}`));
    },
    async pull(controller) {
      const page = await pages.next();
      if (page.done) {
        controller.enqueue(encoder.encode("</D:multistatus>"));
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(await describePage(page.value)));
    },
  });
  return new Response(body, { status: 207, headers: MULTISTATUS_HEADERS });
}

/**
 * `PROPPATCH`: sets and removes dead properties, in order and all or nothing. A live
 * property cannot be changed: it is 403 in the answer and every other change 424.
 */
export async function proppatch(c: DavContext): Promise<Response> {
  c.access.require("write", c.name);
  const root = parseXml(await readText(c.request, PROP_BODY_BYTES, "PROPPATCH body"));
  if (root.ns !== DAV || root.local !== "propertyupdate") throw badRequest("A PROPPATCH body is a DAV:propertyupdate element.");
  const entry = await c.tree.stat(c.name);
  if (!entry) throw notFound(`No file or folder "${c.name}".`);
  c.access.require("write", c.name, entry.kind);
  await guardWrite(c, [{ name: c.name }]);

  const changes: PropChange[] = [];
  const protectedProps: XmlElement[] = [];
  const touched: XmlElement[] = [];
  for (const action of childElements(root)) {
    if (action.ns !== DAV || (action.local !== "set" && action.local !== "remove")) continue;
    for (const propEl of childElements(action, DAV, "prop")) {
      for (const prop of childElements(propEl)) {
        touched.push(prop);
        if (isLive(prop.ns, prop.local)) protectedProps.push(prop);
        else if (action.local === "set") changes.push({ op: "set", name: clarkName(prop.ns, prop.local), value: fromParsed(prop) });
        else changes.push({ op: "remove", name: clarkName(prop.ns, prop.local) });
      }
    }
  }
  if (touched.length === 0) throw badRequest("The DAV:propertyupdate changes no property.");

  const names = (list: XmlElement[]) => list.map((p) => el(p.ns, p.local));
  let stats: OutNode[];
  if (protectedProps.length) {
    const rest = touched.filter((p) => !protectedProps.includes(p));
    stats = [propstat(names(protectedProps), "403 Forbidden"), ...(rest.length ? [propstat(names(rest), "424 Failed Dependency")] : [])];
  } else {
    if (!(await c.state.patchProps(c.name, changes))) {
      throw new HttpError("payload_too_large", "The resource's dead properties would be larger than 64 KiB; nothing was changed.");
    }
    stats = [propstat(names(touched), "200 OK")];
  }
  const body = renderXml(dav("multistatus", [dav("response", [dav("href", [hrefOf(c.name, entry.kind === "folder")]), ...stats])]));
  return new Response(body, { status: 207, headers: MULTISTATUS_HEADERS });
}
