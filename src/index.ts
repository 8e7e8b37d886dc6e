import {
  ANY_TOKEN,
  PEER_ONLY,
  PUBLIC,
  fileInBody,
  filesInBody,
  fileInPath,
  fileInQuery,
  fileOfEachInBody,
  fileOfEachInHeadLine,
  folderInBody,
  folderInPath,
  linkedFilesInBody,
  memory,
  memoryKeyInPath,
  needs,
  prefixInQuery,
  read,
  orLink,
  remove,
  tasks,
  write,
} from "./access/scope";
import type { PeerEnv } from "./env";
import { createToken, listShares, listTokens, revokeShare, revokeToken } from "./handlers/access";
import { deleteFile, getFile, listFiles, putFile } from "./handlers/files";
import { copyFileRoute, copyFolderRoute, createFolder, deleteFolder, moveFileRoute, moveFolderRoute } from "./handlers/folders";
import { health, peers } from "./handlers/health";
import { deleteMemory, getMemory, listMemory, putMemory } from "./handlers/memory";
import { deleteRule, listRules, putRule, reconcileNow, replicaStates } from "./handlers/replication";
import { pullFile, shareFile } from "./handlers/share";
import { stats } from "./handlers/stats";
import {
  LINKS_JSON_BYTES,
  MAX_LINKS,
  MAX_PULLS,
  MAX_PUTS,
  PULLS_JSON_BYTES,
  PUTS_BODY_BYTES,
  PUTS_LINE_BYTES,
  pullFiles,
  putFiles,
  transferLinks,
} from "./handlers/transfers";
import { clearCache, clearTasks, getCache, getTask, listTasks, postBatch, postTask } from "./handlers/tasks";
import { uiAsset, uiShell } from "./handlers/ui";
import { MAX_ZIP_NAMES, ZIP_JSON_BYTES, zipNames, zipPrefix } from "./handlers/zip";
import { abortUpload, completeUpload, createUpload, uploadPart } from "./handlers/uploads";
import { guard, settleAuth } from "./http/auth";
import { SMALL_JSON_BYTES } from "./http/body";
import { withCorsHeaders, withCorsPreflight } from "./http/cors";
import { renderError } from "./http/errors";
import { withCommonHeaders } from "./http/headers";
import { type MountTable, type RouteTable, createRouter } from "./http/routes";
import { consumeReplication } from "./replication/consume";
import type { ReplicationMessage } from "./replication/enqueue";
import { reconcileAll } from "./replication/reconcile";
import { davOptions, webdav } from "./webdav";

// Where a route's names come from, for its scope (src/access/scope.ts).
const file = fileInPath();
const listing = prefixInQuery();
const upload = fileInQuery();
const key = memoryKeyInPath();
const folder = folderInPath();

/** Every route of the peer (the contract: docs/api.md), and who may call it. */
const routes: RouteTable<PeerEnv> = [
  ["/api/health", { GET: health }, PUBLIC],
  ["/api/peers", { GET: peers }, ANY_TOKEN],
  ["/api/stats", { GET: stats }, PEER_ONLY],

  ["/api/files", { GET: listFiles }, needs(read(listing))],
  // Batch transfers (sync): version-bound links on the source, pulls on the destination, many small files in one request.
  ["/api/links", { POST: transferLinks }, needs(read(linkedFilesInBody(MAX_LINKS, LINKS_JSON_BYTES)))],
  ["/api/pulls", { POST: pullFiles }, needs(write(fileOfEachInBody("items", MAX_PULLS, PULLS_JSON_BYTES)))],
  ["/api/puts", { POST: putFiles }, needs(write(fileOfEachInHeadLine("files", MAX_PUTS, PUTS_LINE_BYTES, PUTS_BODY_BYTES)))],
  ["/api/files/:name+/share", { POST: shareFile }, needs(read(file))],
  ["/api/files/:name+/pull", { POST: pullFile }, needs(write(file))],
  ["/api/files/:name+/copy", { POST: copyFileRoute }, needs(read(file), write(fileInBody("to", SMALL_JSON_BYTES)))],
  ["/api/files/:name+/move", { POST: moveFileRoute }, needs(read(file), remove(file), write(fileInBody("to", SMALL_JSON_BYTES)))],
  [
    "/api/files/:name+",
    { GET: getFile, HEAD: getFile, PUT: putFile, DELETE: deleteFile },
    { GET: orLink(read(file)), HEAD: orLink(read(file)), PUT: orLink(write(file)), DELETE: orLink(remove(file)) },
  ],

  ["/api/folders", { POST: createFolder }, needs(write(folderInBody("path", SMALL_JSON_BYTES)))],
  ["/api/folders/:path+/copy", { POST: copyFolderRoute }, needs(read(folder), write(folderInBody("to", SMALL_JSON_BYTES)))],
  ["/api/folders/:path+/move", { POST: moveFolderRoute }, needs(read(folder), remove(folder), write(folderInBody("to", SMALL_JSON_BYTES)))],
  ["/api/folders/:path+", { DELETE: deleteFolder }, needs(remove(folder))],
  [
    "/api/zip",
    { GET: zipPrefix, POST: zipNames },
    { GET: needs(read(listing)), POST: needs(read(filesInBody("names", MAX_ZIP_NAMES, ZIP_JSON_BYTES))) },
  ],

  ["/api/uploads", { POST: createUpload }, needs(write(fileInBody("name", SMALL_JSON_BYTES)))],
  ["/api/uploads/:uploadId/parts/:n", { PUT: uploadPart }, needs(write(upload))],
  ["/api/uploads/:uploadId/complete", { POST: completeUpload }, needs(write(upload))],
  ["/api/uploads/:uploadId", { DELETE: abortUpload }, needs(write(upload))],

  ["/api/memory", { GET: listMemory }, needs(memory(listing))],
  ["/api/memory/:key+", { GET: getMemory, PUT: putMemory, DELETE: deleteMemory }, needs(memory(key))],

  ["/api/tasks", { GET: listTasks, POST: postTask, DELETE: clearTasks }, needs(tasks)],
  ["/api/tasks/batch", { POST: postBatch }, needs(tasks)],
  ["/api/tasks/:id", { GET: getTask }, needs(tasks)],
  ["/api/cache", { GET: getCache, DELETE: clearCache }, needs(tasks)],

  ["/api/replication", { GET: listRules }, PEER_ONLY],
  ["/api/replication/:id/reconcile", { POST: reconcileNow }, PEER_ONLY],
  ["/api/replication/:id/files", { GET: replicaStates }, PEER_ONLY],
  ["/api/replication/:id", { PUT: putRule, DELETE: deleteRule }, PEER_ONLY],

  ["/api/tokens", { GET: listTokens, POST: createToken }, PEER_ONLY],
  ["/api/tokens/:id", { DELETE: revokeToken }, PEER_ONLY],
  ["/api/shares", { GET: listShares }, PEER_ONLY],
  ["/api/shares/:id", { DELETE: revokeShare }, PEER_ONLY],

  ["/", { GET: uiShell, HEAD: uiShell, OPTIONS: davOptions }, PUBLIC],
  ["/assets/:file", { GET: uiAsset, HEAD: uiAsset }, PUBLIC],
];

/** Protocols with methods of their own, each served whole under its prefix (they call the guard's `authenticate`/`authorize`). */
const mounts: MountTable<PeerEnv> = [
  ["/dav", webdav], // WebDAV, RFC 4918 classes 1 and 2 (docs/webdav.md)
];

const answer = createRouter(
  routes,
  {
    before: [withCorsPreflight],
    guard,
    settle: settleAuth,
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
export { AccessRegistry } from "./access/registry";
export { ReplicationLedger } from "./replication/ledger";
export { StorageQuota } from "./storage/storageQuota";
export { DavState } from "./webdav";
