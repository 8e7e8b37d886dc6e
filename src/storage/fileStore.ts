import type { PeerEnv } from "../env";
import { replicationEvents } from "../replication/enqueue";
import { FileStore } from "./files";

/**
 * This peer's files, as every route, WebDAV and the queue consumer reach them: one FileStore
 * whose upload ids are bound to the peer's name and token, and whose acknowledged writes and
 * deletes are told to replication.
 */
export const fileStore = (env: PeerEnv) =>
  new FileStore(env.FILES, env.KV, `${env.PEER_NAME}\n${env.PEER_TOKEN ?? ""}`, replicationEvents(env));
