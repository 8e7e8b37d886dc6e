/**
 * Batch transfers between peers (docs/api.md "Batch transfers"): the source signs many
 * short-lived, version-bound transfer links in one request (`POST /api/links`), and the
 * destination pulls many small files in one request (`POST /api/pulls`), reserving the storage
 * quota once for the batch. `sync` uses both for small files.
 */
import type { IRequest } from "itty-router";
import { z } from "zod";
import { intVar, publicUrl } from "../config";
import { pool } from "../api/pool";
import type { FileMeta, PullBatch, PullResult, TransferLink, TransferLinks } from "../api/types";
import type { PeerEnv } from "../env";
import { principalOf } from "../http/auth";
import { readJson } from "../http/body";
import { HttpError, badRequest } from "../http/errors";
import { json } from "../http/json";
import { signShareLink } from "../http/shareLinks";
import type { FileStore } from "../storage/files";
import { checkFileName } from "../storage/names";
import { changeFiles } from "../storage/quota";
import { fileStore } from "./files";
import { type FetchedLink, fetchLink, storePulled } from "./share";

/** Most names one `POST /api/links` signs (one listing page). */
export const MAX_LINKS = 1000;
/** Most files one `POST /api/pulls` moves. */
export const MAX_PULLS = 100;
/** Files a batch pull fetches at once: the platform's limit of simultaneous outgoing connections is 6. */
const PULLS_AT_ONCE = 6;
/** R2 heads a `names` batch of links runs at once. */
const HEADS_AT_ONCE = 32;
const DEFAULT_LINK_TTL = 900;
const MAX_LINK_TTL = 3600;
/** Largest file a batch pull takes (sync batches files of at most 1 MiB): a big one goes alone. */
export const MAX_PULL_SIZE = 16 * 1024 * 1024;
/** Most bytes one batch declares, so one request cannot reserve the quota for long. */
export const MAX_PULLS_BYTES = 64 * 1024 * 1024;
/** How long one item's fetch may take, answer and bytes (`PULL_ITEM_MS`): a hung source fails its item alone. */
const PULL_ITEM_MS = 60_000;
/** How long a whole batch may fetch: well inside its quota reservation's 10 minutes. */
const PULLS_MS = 300_000;

declare global {
  namespace Cloudflare {
    interface Env {
      /** Deadline of each item of a batch pull in ms (default 60000). */
      PULL_ITEM_MS?: string;
    }
  }
}

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lower-case hex digits");
// An R2 ETag: hex, with `-<parts>` for a multipart object.
const etag = z.string().regex(/^[0-9A-Za-z-]{1,128}$/, "must be the file's ETag as the listing shows it");

const linksBody = z
  .strictObject({
    names: z.array(z.string()).min(1).max(MAX_LINKS).optional(),
    files: z
      .array(z.strictObject({ name: z.string(), etag }))
      .min(1)
      .max(MAX_LINKS)
      .optional(),
    ttl: z.number().int().min(1).max(MAX_LINK_TTL).default(DEFAULT_LINK_TTL),
  })
  .refine((b) => (b.names === undefined) !== (b.files === undefined), { message: 'send either "names" or "files", not both' });

const pullsBody = z.strictObject({
  items: z
    .array(
      z.strictObject({
        from: z.string().min(1).max(8192),
        name: z.string(),
        size: z.number().int().min(0).max(MAX_PULL_SIZE),
        sha256: sha256.optional(),
      }),
    )
    .min(1)
    .max(MAX_PULLS),
});

/** The most bytes of a `POST /api/links` body: 1000 names of 1024 bytes (4 KiB once escaped) with their etags fit (the guard reads up to it too). */
export const LINKS_JSON_BYTES = 6 * 1024 * 1024;
/** The most bytes of a `POST /api/pulls` body: 100 items, each a link and a name (the guard reads up to it too). */
export const PULLS_JSON_BYTES = 2 * 1024 * 1024;

/**
 * `POST /api/links` `{"names": [...]}` or `{"files": [{"name", "etag"}]}`, `"ttl"?` (seconds,
 * default 900, at most 3600) — a GET link per file, bound to one version of it (its ETag: once
 * the file changes the link is 410) and NOT registered in the share registry: nothing is
 * written, so signing 1000 costs no storage round trip. With `files` (the ETags of a listing the
 * caller holds) no storage is read either; the link's GET checks the ETag. With `names` each
 * file is read (its ETag, size and SHA-256 are answered); absent names are listed in `missing`.
 * Links a scoped token asks for expire no later than the token and carry its id (`t`, signed):
 * their GET asks the registry whether the token still lives (410 once it is revoked).
 */
export async function transferLinks(request: IRequest, env: PeerEnv): Promise<Response> {
  const body = await readJson(request, linksBody, LINKS_JSON_BYTES);
  const principal = principalOf(request);
  // A scoped token's links end with it: never past its expiry, and bound to its id (revoked → 410).
  const token = principal.kind === "token" ? principal : null;
  const expires = Math.min(Math.floor(Date.now() / 1000) + body.ttl, token?.expires ?? Number.POSITIVE_INFINITY);
  const base = publicUrl(env, request);
  // The guard has already refused a peer without a token, unless AUTH = "none".
  const sign = (name: string, version: string) =>
    signShareLink(env.PEER_TOKEN ?? "", env.PEER_NAME, base, name, expires, token ? { etag: version, token: token.id } : { etag: version });
  const at = new Date(expires * 1000).toISOString();
  const links: TransferLink[] = [];
  const missing: string[] = [];

  if (body.files) {
    const files = body.files.map((f) => ({ name: checkFileName(f.name), etag: f.etag }));
    const urls = await Promise.all(files.map((f) => sign(f.name, f.etag)));
    files.forEach((f, i) => links.push({ name: f.name, url: urls[i] as string, etag: f.etag, expires: at }));
  } else {
    const names = (body.names ?? []).map((n) => checkFileName(n));
    const store = fileStore(env);
    const found = await pool(names, HEADS_AT_ONCE, (name) => store.head(name));
    const urls = await Promise.all(found.map((f, i) => (f ? sign(names[i] as string, f.object.etag) : null)));
    found.forEach((f, i) => {
      const name = names[i] as string;
      if (!f) missing.push(name);
      else links.push({ name, url: urls[i] as string, etag: f.object.etag, size: f.object.size, sha256: f.sha256, expires: at });
    });
  }
  return json({ links, missing } satisfies TransferLinks);
}

type PullItem = z.output<typeof pullsBody>["items"][number];

/**
 * `POST /api/pulls` `{"items": [{"from": link, "name", "size", "sha256"?}]}` (≤ 100 items, each
 * ≤ 16 MiB, ≤ 64 MiB in all) — this peer
 * pulls each link into its `name`, as `POST /api/files/{name}/pull` does (peers in PEERS only,
 * no redirects, verified on arrival, nothing half-written), six at a time. The storage quota is
 * reserved once for the declared sizes (413 for the whole batch when they do not fit, nothing
 * fetched) and settled once, after the answer; a source that sends another size than declared, or
 * that has not sent it all within the item's deadline (`PULL_ITEM_MS`), fails its item. One
 * item failing does not stop the others: each result says `ok` with the file, or its error.
 */
export async function pullFiles(request: IRequest, env: PeerEnv, ctx: ExecutionContext): Promise<Response> {
  const { items } = await readJson(request, pullsBody, PULLS_JSON_BYTES);
  const names = items.map((item) => checkFileName(item.name));
  if (new Set(names).size !== names.length) throw badRequest("A destination name may appear only once in a batch.");
  const bytes = items.reduce((total, item) => total + item.size, 0);
  if (bytes > MAX_PULLS_BYTES) {
    throw badRequest(`A batch pull declares ${bytes} bytes; at most ${MAX_PULLS_BYTES} (64 MiB) go in one.`);
  }
  const itemMs = intVar(env.PULL_ITEM_MS, PULL_ITEM_MS);
  const ends = Date.now() + PULLS_MS;
  const files = fileStore(env);
  const results = await changeFiles(
    env,
    files,
    // The commit settles after the answer, the names held until it lands (as a PUT's).
    { names, bytes, defer: (settling) => ctx.waitUntil(settling) },
    (previous) =>
      pool(items, PULLS_AT_ONCE, (item, i) => {
        const name = names[i] as string;
        const left = ends - Date.now();
        if (left <= 0) return Promise.resolve(timedOut(name));
        return pullOne(env, files, name, item, previous[i] ?? null, AbortSignal.timeout(Math.min(itemMs, left)));
      }),
    // What each name holds now: the pulled file, or — after a failure, which stores nothing — as read again.
    async (done) => {
      const sizes = await Promise.all(done.map((r) => (r.ok ? r.file.size : files.sizeOf(r.name))));
      return sizes.reduce((a, b) => a + b, 0);
    },
  );
  return json({ results } satisfies PullBatch);
}

const timedOut = (name: string): PullResult => ({
  name,
  ok: false,
  error: { code: "upstream_failed", message: `The batch ran out of time before "${name}" was fetched; nothing was stored.` },
});

/** One item of a batch pull; `signal` is its deadline, for the answer and the bytes alike. */
async function pullOne(
  env: PeerEnv,
  files: FileStore,
  name: string,
  item: PullItem,
  previous: R2Object | null,
  signal: AbortSignal,
): Promise<PullResult> {
  let fetched: FetchedLink | undefined;
  try {
    fetched = await fetchLink(env, item.from, signal);
    if (fetched.length !== item.size) {
      throw new HttpError(
        "precondition_failed",
        `${fetched.source} sends ${fetched.length} bytes where ${item.size} were declared; nothing was stored.`,
      );
    }
    if (item.sha256 && fetched.sha256 && item.sha256 !== fetched.sha256) {
      throw new HttpError(
        "checksum_mismatch",
        `${fetched.source} reports SHA-256 ${fetched.sha256}, not the ${item.sha256} expected; nothing was stored.`,
      );
    }
    const file: FileMeta = await storePulled(files, name, fetched, { expectedSha256: item.sha256, previous });
    return { name, ok: true, file };
  } catch (err) {
    if (err instanceof HttpError) return { name, ok: false, error: { code: err.code, message: err.message } };
    // A bug, not a refusal: logged as the router's catch logs one, answered as this item's `internal`.
    console.error("unhandled error in a batch pull:", err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    return { name, ok: false, error: { code: "internal", message: `The pull of "${name}" failed; nothing was stored.` } };
  } finally {
    await fetched?.discard();
  }
}
