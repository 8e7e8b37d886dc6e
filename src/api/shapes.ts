/**
 * The shape of every answer of the peer's JSON API (docs/api.md), once: the client's types
 * are inferred from these schemas, handlers check their values against the same types, and
 * test/node/client-shapes.test.ts drives every route through the client against a real peer
 * and parses each answer with `ANSWERS`, so a drift between peer and client fails a test.
 * Objects are strict: a field the peer adds without saying so here is a drift too.
 *
 * The client imports only types from this module, so zod never reaches the browser bundle.
 */
import { z } from "zod";
import { ETAG } from "./etags";

const count = z.int().min(0);
/** An ISO 8601 time as `Date.prototype.toISOString` writes it. */
const isoTime = z.iso.datetime();
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const ErrorBody = z.strictObject({ error: z.strictObject({ code: z.string().regex(/^[a-z_]+$/), message: z.string().min(1) }) });

export const Health = z.strictObject({ peer: z.string(), version: z.string(), time: isoTime });
export const PeerRef = z.strictObject({ name: z.string(), url: z.string() });
export const PeerList = z.strictObject({ peers: z.array(PeerRef) });

export const TaskStats = z.strictObject({ total: count, succeeded: count, failed: count, cached: count, avgDurationMs: z.number().min(0) });
export const Stats = z.strictObject({
  files: z.strictObject({ count, bytes: count }),
  memory: z.strictObject({ keys: count }),
  tasks: TaskStats,
  cache: z.strictObject({ entries: count }),
});

/** What a PUT of a file answers. */
export const StoredFile = z.strictObject({ name: z.string(), size: count, etag: z.string(), sha256: sha256.nullable() });
/**
 * A stored file as listings, pull and multipart `complete` show it; a file stored by a pull (a
 * replica) also has `sourceEtag`, the R2 etag of the source file it is a copy of.
 */
export const FileMeta = StoredFile.extend({
  contentType: z.string(),
  uploaded: isoTime,
  sourceEtag: z.string().regex(ETAG).optional(),
});
/** A listing page; with `delimiter=/` also the sub-folders one level down (each ending in `/`). */
export const FilePage = z.strictObject({
  files: z.array(FileMeta),
  folders: z.array(z.string()).optional(),
  cursor: z.string().nullable(),
});
/** A page of a search by name: `scanned` names read; may hold fewer than `limit` matches. */
export const SearchPage = z.strictObject({ files: z.array(FileMeta), cursor: z.string().nullable(), scanned: count });
/** `POST /api/folders`: the folder's path with its trailing `/`. */
export const FolderCreated = z.strictObject({ path: z.string() });
/** `DELETE /api/folders/{path}?recursive=true`: how many files were deleted. */
export const FolderDeleted = z.strictObject({ deleted: count });
/** What a folder copy or move moved. */
export const CopyTotals = z.strictObject({ files: count, bytes: count });

/** A new share link: `id` names it in `GET /api/shares` and `DELETE /api/shares/{id}`. */
export const ShareLink = z.strictObject({ url: z.url(), expires: isoTime, id: z.string() });
/** A share link as `GET /api/shares` lists it (never its URL or password). */
export const ShareInfo = z.strictObject({
  id: z.string(),
  name: z.string(),
  expires: isoTime,
  downloads: count,
  maxDownloads: count.nullable(),
  password: z.boolean(),
});
export const ShareList = z.strictObject({ shares: z.array(ShareInfo) });

/**
 * A transfer link of `POST /api/links`: bound to the file's version (`etag`), unregistered.
 * `size` and `sha256` are there when the peer read the file (a request by `names`).
 */
export const TransferLink = z.strictObject({
  name: z.string(),
  url: z.url(),
  etag: z.string(),
  size: count.optional(),
  sha256: sha256.nullable().optional(),
  expires: isoTime,
});
export const TransferLinks = z.strictObject({ links: z.array(TransferLink), missing: z.array(z.string()) });
/** One file of `POST /api/pulls`: stored, or why not (nothing stored for it). */
export const PullResult = z.discriminatedUnion("ok", [
  z.strictObject({ name: z.string(), ok: z.literal(true), file: FileMeta }),
  z.strictObject({ name: z.string(), ok: z.literal(false), error: ErrorBody.shape.error }),
]);
export const PullBatch = z.strictObject({ results: z.array(PullResult) });
/** One file of `POST /api/puts`: stored, or why not (nothing stored for it) — a pull's result. */
export const PutResult = PullResult;
export const PutBatch = z.strictObject({ results: z.array(PutResult) });

const tokenOps = z.array(z.enum(["read", "write", "delete", "memory", "tasks"]));
/** A scoped token as `GET /api/tokens` lists it (never the secret). */
export const TokenInfo = z.strictObject({
  id: z.string(),
  ops: tokenOps,
  prefix: z.string(),
  expires: isoTime.nullable(),
  label: z.string(),
  created: isoTime,
});
export const TokenList = z.strictObject({ tokens: z.array(TokenInfo) });
/** A freshly minted token: the only answer that carries `token`. */
export const TokenCreated = z.strictObject({
  id: z.string(),
  token: z.string(),
  ops: tokenOps,
  prefix: z.string(),
  expires: isoTime.nullable(),
  label: z.string(),
});

export const UploadCreated = z.strictObject({ uploadId: z.string().min(1), name: z.string() });
export const UploadPart = z.strictObject({ part: z.int().min(1), etag: z.string().min(1) });

/** `expires` is when the key expires (ISO), or null for never. */
export const MemoryKey = z.strictObject({ key: z.string(), expires: isoTime.nullable() });
export const MemoryPage = z.strictObject({ keys: z.array(MemoryKey), cursor: z.string().nullable() });
export const MemoryValue = z.strictObject({ key: z.string(), value: z.unknown() });
export const MemoryWritten = z.strictObject({ key: z.string() });

const taskStatus = z.enum(["succeeded", "failed"]);
/** The answer to one task (`POST /api/tasks`, one element of a batch). */
export const TaskResult = z.strictObject({
  id: z.string(),
  status: taskStatus,
  result: z.unknown().optional(),
  error: z.string().optional(),
  cached: z.boolean(),
  durationMs: z.number().min(0),
  peer: z.string(),
});
export const TaskBatch = z.strictObject({ results: z.array(TaskResult) });
/** One line of `GET /api/tasks`: `result` is the result's JSON text cut to 200 characters. */
export const TaskSummary = z.strictObject({
  id: z.string(),
  status: taskStatus,
  function: z.string(),
  durationMs: z.number().min(0),
  cached: z.boolean(),
  createdAt: isoTime,
  result: z.string().nullable(),
  error: z.string().nullable(),
});
export const TaskPage = z.strictObject({ tasks: z.array(TaskSummary), cursor: z.string().nullable() });
/** The whole record: `GET /api/tasks/{id}`. */
export const TaskRecord = z.strictObject({
  id: z.string(),
  status: taskStatus,
  function: z.string(),
  program: z.string(),
  args: z.array(z.unknown()),
  result: z.unknown().optional(),
  error: z.string().optional(),
  cached: z.boolean(),
  durationMs: z.number().min(0),
  createdAt: isoTime,
  peer: z.string(),
});
export const CacheInfo = z.strictObject({ entries: count, ttlSeconds: count });

/** A replication rule and its delivery status (never its token): docs/replication.md. */
export const ReplicationRule = z.strictObject({
  id: z.string(),
  prefix: z.string(),
  to: z.string(),
  as: z.string(),
  deletes: z.enum(["mirror", "keep"]),
  created: isoTime,
  /** Messages queued and not yet delivered or dead-lettered. */
  pending: count,
  /** Deliveries verified since the rule was added. */
  delivered: count,
  lastSuccess: isoTime.nullable(),
  /** Acknowledged write → verified copy, for the last delivery, in ms. */
  lagMs: count.nullable(),
  lastError: z.string().nullable(),
  lastErrorAt: isoTime.nullable(),
  /** Messages that ran out of retries (dead-lettered). */
  failed: count,
});
export const ReplicationRules = z.strictObject({ rules: z.array(ReplicationRule) });
/** One page of a folder under a rule, each file with the state of its copy there. */
export const ReplicaStates = z.strictObject({
  rule: z.string(),
  prefix: z.string(),
  files: z.array(z.strictObject({ name: z.string(), state: z.enum(["current", "differs", "missing", "unknown"]) })),
  cursor: z.string().nullable(),
  /** Why the destination could not be listed (every state is then `unknown`). */
  error: z.string().nullable(),
});
export const ReconcileStarted = z.strictObject({ rule: z.string(), reconciling: z.literal(true) });

/** An answer that is not JSON: the file's bytes, or nothing (204, HEAD). */
export type NonJson = "bytes" | "empty";

/**
 * The success answer of every `/api/` route, by "METHOD path" with the path as the route
 * table writes it (`:name+` as `{name}`). Every route of src/index.ts under `/api/` is here.
 */
export const ANSWERS = {
  "GET /api/health": Health,
  "GET /api/peers": PeerList,
  "GET /api/stats": Stats,
  // With `search=`, a SearchPage.
  "GET /api/files": z.union([FilePage, SearchPage]),
  "POST /api/files/{name}/share": ShareLink,
  "POST /api/files/{name}/pull": FileMeta,
  "POST /api/files/{name}/copy": FileMeta,
  "POST /api/links": TransferLinks,
  "POST /api/pulls": PullBatch,
  "POST /api/puts": PutBatch,
  "POST /api/files/{name}/move": FileMeta,
  "GET /api/files/{name}": "bytes",
  "HEAD /api/files/{name}": "empty",
  "PUT /api/files/{name}": StoredFile,
  "DELETE /api/files/{name}": "empty",
  "POST /api/folders": FolderCreated,
  "POST /api/folders/{path}/copy": CopyTotals,
  "POST /api/folders/{path}/move": CopyTotals,
  // 204 with no body when the folder was empty; with recursive=true this.
  "DELETE /api/folders/{path}": FolderDeleted,
  "GET /api/zip": "bytes",
  "POST /api/zip": "bytes",
  "POST /api/uploads": UploadCreated,
  "PUT /api/uploads/{uploadId}/parts/{n}": UploadPart,
  "POST /api/uploads/{uploadId}/complete": FileMeta,
  "DELETE /api/uploads/{uploadId}": "empty",
  "GET /api/memory": MemoryPage,
  "GET /api/memory/{key}": MemoryValue,
  "PUT /api/memory/{key}": MemoryWritten,
  "DELETE /api/memory/{key}": "empty",
  "GET /api/tasks": TaskPage,
  "POST /api/tasks": TaskResult,
  "DELETE /api/tasks": "empty",
  "POST /api/tasks/batch": TaskBatch,
  "GET /api/tasks/{id}": TaskRecord,
  "GET /api/cache": CacheInfo,
  "DELETE /api/cache": "empty",
  "GET /api/tokens": TokenList,
  "POST /api/tokens": TokenCreated,
  "DELETE /api/tokens/{id}": "empty",
  "GET /api/shares": ShareList,
  "DELETE /api/shares/{id}": "empty",
  "GET /api/replication": ReplicationRules,
  "POST /api/replication/{id}/reconcile": ReconcileStarted,
  "GET /api/replication/{id}/files": ReplicaStates,
  "PUT /api/replication/{id}": ReplicationRule,
  "DELETE /api/replication/{id}": "empty",
} as const satisfies Record<string, z.ZodType | NonJson>;

export type Route = keyof typeof ANSWERS;
/** The parsed success answer of a JSON route. */
export type AnswerOf<R extends Route> = (typeof ANSWERS)[R] extends z.ZodType ? z.infer<(typeof ANSWERS)[R]> : never;
