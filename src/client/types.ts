/** Shapes of the peer's answers, as docs/api.md defines them. */

export interface Health {
  peer: string;
  version: string;
  time: string;
}

export interface PeerRef {
  name: string;
  url: string;
}

export interface Stats {
  files: { count: number; bytes: number };
  memory: { keys: number };
  tasks: { total: number; succeeded: number; failed: number; cached: number; avgDurationMs: number };
  cache: { entries: number };
}

/** A stored file as listings and uploads show it. */
export interface FileMeta {
  name: string;
  size: number;
  etag: string;
  sha256: string | null;
  contentType?: string;
  uploaded?: string;
}

export interface FilePage {
  files: FileMeta[];
  cursor: string | null;
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

export interface ShareLink {
  url: string;
  expires: string;
}

export interface MemoryKey {
  key: string;
  expires: number | null;
}

export interface MemoryPage {
  keys: MemoryKey[];
  cursor: string | null;
}

/** A task as `POST /api/tasks` takes it. */
export interface TaskRequest {
  program: string;
  function?: string;
  args?: unknown[];
  timeoutMs?: number;
  cache?: boolean;
}

export interface TaskResult {
  id: string;
  status: "succeeded" | "failed";
  result?: unknown;
  error?: string;
  cached: boolean;
  durationMs: number;
  peer: string;
}

export interface TaskRecord {
  id: string;
  status: "succeeded" | "failed";
  function: string;
  durationMs: number;
  cached: boolean;
  createdAt: string;
  result?: unknown;
  error?: string;
  [more: string]: unknown;
}

export interface TaskPage {
  tasks: TaskRecord[];
  cursor: string | null;
}

export interface CacheInfo {
  entries: number;
  ttlSeconds: number;
}

export interface UploadPart {
  part: number;
  etag: string;
}
