/**
 * Batch transfers (docs/api.md "Batch transfers"): the source signs many short-lived,
 * version-bound transfer links in one request (`POST /api/links`), the destination pulls many
 * small files in one request (`POST /api/pulls`), or a client sends many small files in one
 * request (`POST /api/puts`) — the storage quota reserved once for the batch. `sync` uses the
 * first two for small files pulled, the third for small files relayed.
 */
import type { IRequest } from "itty-router";
import { z } from "zod";
import { intVar, publicUrl } from "../config";
import { pool } from "../api/pool";
import type { FileMeta, PullBatch, PullResult, PutBatch, TransferLink, TransferLinks } from "../api/types";
import type { PeerEnv } from "../env";
import { principalOf } from "../http/auth";
import { type BodyBytes, headLineOnce, readJson, validate } from "../http/body";
import { toHex } from "../http/crypto";
import { HttpError, badRequest } from "../http/errors";
import { json } from "../http/json";
import { checkContentType } from "../http/mediaType";
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

/** Most files one `POST /api/puts` stores. */
export const MAX_PUTS = 100;
/** Largest file of a batch put: each is held in memory while it is stored (bigger ones go by PUT). */
export const MAX_PUT_SIZE = 16 * 1024 * 1024;
/** Most bytes of files one batch put carries (as a batch pull). */
export const MAX_PUTS_BYTES = 64 * 1024 * 1024;
/** The most bytes of a batch put's manifest line: 100 names of 1024 bytes (4 KiB once escaped) with their digests fit (the guard reads up to it too). */
export const PUTS_LINE_BYTES = 1024 * 1024;
/** The most bytes of a batch put's body: its line, the `\n` and the files (413 by its Content-Length, unread). */
export const PUTS_BODY_BYTES = PUTS_LINE_BYTES + 1 + MAX_PUTS_BYTES;
/** Files of a batch put stored at once … */
const PUTS_AT_ONCE = 6;
/** … and the most bytes of them held meanwhile (one file bigger than this is stored alone). */
const PUTS_HELD_BYTES = 16 * 1024 * 1024;

const putsManifest = z.strictObject({
  files: z
    .array(
      z.strictObject({
        name: z.string(),
        size: z.number().int().min(0).max(MAX_PUT_SIZE),
        sha256: sha256.optional(),
        contentType: z.string().optional(),
      }),
    )
    .min(1)
    .max(MAX_PUTS),
});

type PutItem = z.output<typeof putsManifest>["files"][number];

/**
 * `POST /api/puts` — many small files in one request: a first line of JSON,
 * `{"files": [{"name", "size", "sha256"?, "contentType"?}]}` (≤ 100 files, each ≤ 16 MiB, ≤ 64
 * MiB in all), then `\n`, then each file's bytes in that order, nothing between or after
 * (Content-Length: the line, its `\n` and the sizes, else 400 before anything is stored). The
 * storage quota is reserved once for the sizes (413 for the whole batch when they do not fit)
 * and settled once, after the answer. Each file is stored as a PUT stores it — whole or not at
 * all, its SHA-256 verified when given and recorded either way — six at a time; one failing
 * does not stop the others: each result says `ok` with the file, or its error.
 */
export async function putFiles(request: IRequest, env: PeerEnv, ctx: ExecutionContext): Promise<Response> {
  const body = await headLineOnce(request, PUTS_LINE_BYTES, PUTS_BODY_BYTES);
  const length = body.length;
  const items = validate(putsManifest, body.head).files;
  const names = items.map((item) => checkFileName(item.name));
  if (new Set(names).size !== names.length) throw badRequest("A name may appear only once in a batch.");
  const types = items.map((item, i) => checkContentType(item.contentType, `"files.${i}.contentType"`));
  const bytes = items.reduce((total, item) => total + item.size, 0);
  if (bytes > MAX_PUTS_BYTES) {
    throw badRequest(`A batch put declares ${bytes} bytes; at most ${MAX_PUTS_BYTES} (64 MiB) go in one.`);
  }
  if (body.headBytes + bytes !== length) {
    throw badRequest(
      `Content-Length is ${length}, but the first line (${body.headBytes} bytes with its newline) and the sizes it declares (${bytes}) make ${body.headBytes + bytes}; nothing was stored.`,
    );
  }
  const files = fileStore(env);
  const results = await changeFiles(
    env,
    files,
    { names, bytes, defer: (settling) => ctx.waitUntil(settling) },
    (previous) => storeAll(files, items, names, types, previous, body.rest),
    async (done) => {
      const sizes = await Promise.all(done.map((r) => (r.ok ? r.file.size : files.sizeOf(r.name))));
      return sizes.reduce((a, b) => a + b, 0);
    },
  );
  return json({ results } satisfies PutBatch);
}

/** Takes each file's bytes from the body in turn and stores them, `PUTS_AT_ONCE` at a time. */
async function storeAll(
  files: FileStore,
  items: PutItem[],
  names: string[],
  types: (string | undefined)[],
  previous: (R2Object | null)[],
  rest: BodyBytes,
): Promise<PullResult[]> {
  const results: PullResult[] = new Array(items.length);
  const running = new Set<Promise<void>>();
  let held = 0;
  for (const [i, item] of items.entries()) {
    const name = names[i] as string;
    while (running.size >= PUTS_AT_ONCE || (running.size > 0 && held + item.size > PUTS_HELD_BYTES)) await Promise.race(running);
    const bytes = await rest.take(item.size);
    if (!bytes) {
      // The client broke off: what was read is stored, the rest is not.
      for (let k = i; k < names.length; k++) results[k] = brokenOff(names[k] as string);
      break;
    }
    held += item.size;
    const stored: Promise<void> = putOne(files, name, item, types[i], bytes, previous[i] ?? null).then((result) => {
      results[i] = result;
      held -= item.size;
      running.delete(stored);
    });
    running.add(stored);
  }
  await Promise.all(running);
  await rest.cancel();
  return results;
}

const brokenOff = (name: string): PullResult => ({
  name,
  ok: false,
  error: { code: "bad_request", message: `The request body ended before the bytes of "${name}"; nothing was stored.` },
});

/** One file of a batch put, its bytes in hand: stored with its SHA-256 (computed here when not given), or why not. */
async function putOne(
  files: FileStore,
  name: string,
  item: PutItem,
  contentType: string | undefined,
  bytes: Uint8Array,
  previous: R2Object | null,
): Promise<PullResult> {
  try {
    const digest = item.sha256 ?? toHex(await crypto.subtle.digest("SHA-256", bytes));
    const file = await files.put(name, bytes, { length: bytes.byteLength, sha256: digest, contentType, previous });
    return { name, ok: true, file };
  } catch (err) {
    if (err instanceof HttpError && err.code === "checksum_mismatch") {
      const message = `The bytes of "${name}" do not match the SHA-256 ${item.sha256} given; nothing was stored.`;
      return { name, ok: false, error: { code: err.code, message } };
    }
    if (err instanceof HttpError) return { name, ok: false, error: { code: err.code, message: err.message } };
    console.error("unhandled error in a batch put:", err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    return { name, ok: false, error: { code: "internal", message: `Storing "${name}" failed; nothing was stored.` } };
  }
}
