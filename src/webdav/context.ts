import type { PeerEnv } from "../env";
import { HttpError } from "../http/errors";
import { DavTree } from "../storage/davTree";
import type { DavAccess } from "./auth";
import { type IfList, ifHolds, parseIf, submittedTokens } from "./ifHeader";
import { nameOfUrl } from "./paths";
import type { DavState, WriteTarget } from "./state";

/** Everything a WebDAV method needs: the request, the resource it names, the tree, the state, the token's reach. */
export interface DavContext {
  request: Request;
  env: PeerEnv;
  /** The resource of the request URL ("" for /dav/ itself). */
  name: string;
  tree: DavTree;
  state: DurableObjectStub<DavState>;
  access: DavAccess;
}

/** Builds the context of one request. */
export function davContext(request: Request, env: PeerEnv, name: string, access: DavAccess): DavContext {
  return {
    request,
    env,
    name,
    tree: new DavTree(env),
    state: env.DAV_STATE.get(env.DAV_STATE.idFromName("dav")),
    access,
  };
}

/** The request's `If:` lists, or null without the header. */
export function ifLists(request: Request): IfList[] | null {
  const header = request.headers.get("if");
  return header === null ? null : parseIf(header);
}

/**
 * The check every write makes before it touches anything: the `If:` header must hold (else
 * 412), and every lock on what the write touches must have its token submitted (else 423).
 * Returns the lock tokens the client submitted.
 */
export async function guardWrite(c: DavContext, targets: WriteTarget[]): Promise<string[]> {
  const lists = ifLists(c.request);
  const submitted = lists ? submittedTokens(lists) : [];
  if (lists) await checkIf(c, lists);
  const blocked = await c.state.blocked(targets, submitted);
  if (blocked !== null) {
    throw new HttpError("locked", `"${blocked || "/"}" is locked; send its lock token in an If header to change it.`);
  }
  return submitted;
}

/** 412 unless the `If:` lists hold for the resources they name. */
export async function checkIf(c: DavContext, lists: IfList[]): Promise<void> {
  // A tag naming no resource of this peer (another host, outside /dav/) has no lock and no etag here.
  const names = new Map<string | null, string | null>();
  for (const list of lists) {
    if (!names.has(list.resource)) names.set(list.resource, list.resource === null ? c.name : ownName(list.resource, c.request));
  }
  const unique = [...new Set(names.values())].filter((n): n is string => n !== null);
  const needEtags = lists.some((l) => l.conditions.some((cond) => "etag" in cond));
  const [locks, etags] = await Promise.all([
    c.state.locksOn(unique),
    Promise.all(unique.map(async (n) => [n, needEtags ? await c.tree.stat(n) : null] as const)),
  ]);
  const etagOf = new Map(etags.map(([n, entry]) => [n, entry?.kind === "file" ? entry.etag : null]));
  const holds = ifHolds(lists, (resource) => {
    const name = names.get(resource);
    if (name === null || name === undefined) return { etag: null, tokens: [] };
    return { etag: etagOf.get(name) ?? null, tokens: (locks[name] ?? []).map((l) => l.token) };
  });
  if (!holds) throw new HttpError("precondition_failed", "The If header's conditions do not hold for this resource.");
}

/** The name an `If:` resource tag stands for on this peer, or null when it is not one of ours. */
function ownName(tag: string, request: Request): string | null {
  try {
    return nameOfUrl(tag, request);
  } catch {
    return null;
  }
}
