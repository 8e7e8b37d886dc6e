import type { PeerEnv } from "./env";
import { deleteFile, getFile, listFiles, putFile } from "./handlers/files";
import { copyFileRoute, copyFolderRoute, createFolder, deleteFolder, moveFileRoute, moveFolderRoute } from "./handlers/folders";
import { health, peers } from "./handlers/health";
import { deleteMemory, getMemory, listMemory, putMemory } from "./handlers/memory";
import { deleteRule, listRules, putRule, reconcileNow } from "./handlers/replication";
import { pullFile, shareFile } from "./handlers/share";
import { stats } from "./handlers/stats";
import { clearCache, clearTasks, getCache, getTask, listTasks, postBatch, postTask } from "./handlers/tasks";
import { uiAsset, uiShell } from "./handlers/ui";
import { abortUpload, completeUpload, createUpload, uploadPart } from "./handlers/uploads";
import { withAuth } from "./http/auth";
import { withCorsHeaders, withCorsPreflight } from "./http/cors";
import { renderError } from "./http/errors";
import { withCommonHeaders } from "./http/headers";
import { type MountTable, type RouteTable, createRouter } from "./http/routes";
import { consumeReplication } from "./replication/consume";
import type { ReplicationMessage } from "./replication/enqueue";
import { reconcileAll } from "./replication/reconcile";
import { davOptions, webdav } from "./webdav";

/** Every route of the peer (the contract: docs/api.md). */
const routes: RouteTable<PeerEnv> = [
  ["/api/health", { GET: health }],
  ["/api/peers", { GET: peers }],
  ["/api/stats", { GET: stats }],

  ["/api/files", { GET: listFiles }],
  ["/api/files/:name+/share", { POST: shareFile }],
  ["/api/files/:name+/pull", { POST: pullFile }],
  ["/api/files/:name+/copy", { POST: copyFileRoute }],
  ["/api/files/:name+/move", { POST: moveFileRoute }],
  ["/api/files/:name+", { GET: getFile, HEAD: getFile, PUT: putFile, DELETE: deleteFile }],

  ["/api/folders", { POST: createFolder }],
  ["/api/folders/:path+/copy", { POST: copyFolderRoute }],
  ["/api/folders/:path+/move", { POST: moveFolderRoute }],
  ["/api/folders/:path+", { DELETE: deleteFolder }],

  ["/api/uploads", { POST: createUpload }],
  ["/api/uploads/:uploadId/parts/:n", { PUT: uploadPart }],
  ["/api/uploads/:uploadId/complete", { POST: completeUpload }],
  ["/api/uploads/:uploadId", { DELETE: abortUpload }],

  ["/api/memory", { GET: listMemory }],
  ["/api/memory/:key+", { GET: getMemory, PUT: putMemory, DELETE: deleteMemory }],

  ["/api/tasks", { GET: listTasks, POST: postTask, DELETE: clearTasks }],
  ["/api/tasks/batch", { POST: postBatch }],
  ["/api/tasks/:id", { GET: getTask }],
  ["/api/cache", { GET: getCache, DELETE: clearCache }],

  ["/api/replication", { GET: listRules }],
  ["/api/replication/:id/reconcile", { POST: reconcileNow }],
  ["/api/replication/:id", { PUT: putRule, DELETE: deleteRule }],

  ["/", { GET: uiShell, HEAD: uiShell, OPTIONS: davOptions }],
  ["/assets/:file", { GET: uiAsset, HEAD: uiAsset }],
];

/** Protocols with methods of their own, each served whole under its prefix. */
const mounts: MountTable<PeerEnv> = [
  ["/dav", webdav], // WebDAV, RFC 4918 classes 1 and 2 (docs/webdav.md)
];

const answer = createRouter(
  routes,
  {
    before: [withCorsPreflight, withAuth],
    catch: renderError,
    finally: [withCorsHeaders, withCommonHeaders],
  },
  mounts,
);

export default {
  fetch: answer,
  // Replication: the queue's consumer delivers, the Cron Trigger reconciles (docs/replication.md).
  queue: consumeReplication,
  scheduled: (_controller, env, ctx) => ctx.waitUntil(reconcileAll(env)),
} satisfies ExportedHandler<PeerEnv, ReplicationMessage>;

/** Durable Object classes (wrangler.toml binds them; docs/storage.md lists them). */
export { ReplicationLedger } from "./replication/ledger";
export { StorageQuota } from "./storage/storageQuota";
export { DavState } from "./webdav";
