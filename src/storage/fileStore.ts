import type { PeerEnv } from "../env";
import { replicationEvents } from "../replication/enqueue";
import { FileStore } from "./files";
import { FolderStore } from "./folders";

/**
 * This peer's files, as every route, WebDAV and the queue consumer reach them: one FileStore
 * whose upload ids are bound to the peer's name and token, and whose acknowledged writes and
 * deletes are told to replication.
 */
export const fileStore = (env: PeerEnv) =>
  new FileStore(env.FILES, env.KV, `${env.PEER_NAME}\n${env.PEER_TOKEN ?? ""}`, replicationEvents(env));

/** This peer's folders (markers, batched deletes, search), over its one FileStore. */
export const folderStore = (env: PeerEnv, files: FileStore = fileStore(env)) => new FolderStore(env.FILES, files);
