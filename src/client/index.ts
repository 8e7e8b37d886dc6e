/**
 * The edgepeer client: one fetch-based client for Node and browsers. Node-only helpers
 * (network file, files on disk, remote memory by peer name) are in `./node`.
 */
export * from "./check";
export * from "./client";
export * from "./errors";
export { narrowToken } from "../api/tokenChain";
export * from "./sync";
export * from "./transfer";
export type * from "./types";
