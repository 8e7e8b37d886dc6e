/**
 * Shapes of the peer's answers: the types of `src/api/types.ts`, inferred from the schemas
 * of `src/api/shapes.ts` — the one source of truth that the handlers answer with and that
 * test/node/client-shapes.test.ts checks every route's answer against. Only what the client
 * itself builds (from headers, for requests) is declared here.
 */
export type {
  CacheInfo,
  CopyTotals,
  FileMeta,
  FilePage,
  Health,
  MemoryKey,
  MemoryPage,
  FolderCreated,
  PeerRef,
  PullBatch,
  PullResult,
  PutBatch,
  PutResult,
  ReplicaStates,
  ReplicationRule as ReplicationRuleStatus,
  SearchPage,
  ShareInfo,
  ShareLink,
  Stats,
  StoredFile,
  TaskPage,
  TaskRecord,
  TaskResult,
  TaskSummary,
  TokenCreated,
  TokenInfo,
  TransferLink,
  TransferLinks,
  UploadCreated,
  UploadPart,
} from "../api/types";

/** What a scoped token may do: `POST /api/tokens`. */
export interface TokenRequest {
  ops: Array<"read" | "write" | "delete" | "memory" | "tasks">;
  /** Every file name and memory key the token touches must start with it. */
  prefix?: string;
  /** Whole seconds until it expires; none: until revoked. */
  ttl?: number;
  label?: string;
}

/** One file of `POST /api/pulls`: a peer's link, the name to store it as, its size and (to check) its SHA-256. */
export interface PullItem {
  from: string;
  name: string;
  size: number;
  sha256?: string;
}

/** One file of `POST /api/puts`: its name, its bytes, and (to check) its SHA-256 and its type. */
export interface PutItem {
  name: string;
  bytes: Uint8Array;
  sha256?: string;
  contentType?: string;
}

/** How a share link is limited: `POST /api/files/{name}/share`. */
export interface ShareOptions {
  /** Seconds until the link expires (default 3600, at most 604800). */
  ttl?: number;
  /** Asked for by HTTP Basic (any user name); stored only as a slow hash. */
  password?: string;
  /** Downloads from byte 0 the link serves before it is 410. */
  maxDownloads?: number;
  signal?: AbortSignal;
}

/** What a GET or HEAD of a file says about it. */
export interface FileInfo {
  name: string;
  size: number;
  etag: string;
  sha256: string | null;
  contentType: string;
  lastModified: string | null;
}

/** A file being downloaded: its headers and its body as a stream. */
export interface FileDownload extends FileInfo {
  status: 200 | 206;
  body: ReadableStream<Uint8Array>;
}

/** A zip being downloaded: its exact size, its file name and its body as a stream. */
export interface ZipDownload {
  size: number;
  filename: string;
  body: ReadableStream<Uint8Array>;
}

/** A task as `POST /api/tasks` takes it. */
export interface TaskRequest {
  program: string;
  function?: string;
  args?: unknown[];
  timeoutMs?: number;
  cache?: boolean;
}

/** A replication rule as `PUT /api/replication/{id}` takes it. */
export interface ReplicationRuleInput {
  prefix: string;
  to: string;
  as?: string;
  /** The destination's token (scoped: write, read for reconcile, delete for mirror). */
  token: string;
  deletes?: "mirror" | "keep";
}
