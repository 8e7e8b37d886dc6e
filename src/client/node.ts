/**
 * Node-only helpers of the client: the network file, files on disk as upload sources,
 * streaming SHA-256, atomic downloads. The browser-facing client (`index.ts`) never
 * imports this module.
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { open, readFile, rename, rm, stat } from "node:fs/promises";
import type { Writable } from "node:stream";
import { PeerClient, type PeerClientOptions, type RandomAccessSource } from "./client";
import { PeerError } from "./errors";
import { nodeFetch } from "./node-http";

export { nodeFetch } from "./node-http";

/** Bytes per read from disk. */
const CHUNK = 64 * 1024;

/** Where `npm start` writes the local network. */
export const DEFAULT_NETWORK_FILE = ".peers/network.json";

/** A peer of the network file: `{"peers": [{"name", "url", "token"}]}`. */
export interface NetworkPeer {
  name: string;
  url: string;
  token: string;
}

export interface Network {
  peers: NetworkPeer[];
}

/** Reads a network file; a missing or malformed file is a `PeerError` that says what to do. */
export async function readNetwork(file = DEFAULT_NETWORK_FILE): Promise<Network> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new PeerError("no_network", `No network file at ${file}: start the local network with \`npm start\`, or pass --url/--host.`);
    }
    throw new PeerError("no_network", `Cannot read ${file}: ${(err as Error).message}.`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new PeerError("no_network", `${file} is not valid JSON.`);
  }
  const peers = (data as { peers?: unknown } | null)?.peers;
  if (!Array.isArray(peers) || !peers.every(isNetworkPeer)) {
    throw new PeerError("no_network", `${file} does not have the shape {"peers": [{"name", "url", "token"}]}.`);
  }
  return { peers };
}

function isNetworkPeer(p: unknown): p is NetworkPeer {
  const o = p as Record<string, unknown> | null;
  return !!o && typeof o.name === "string" && typeof o.url === "string" && typeof o.token === "string";
}

/** The peer called `name` in a network, or a `PeerError` listing the ones there are. */
export function findPeer(network: Network, name: string, file = DEFAULT_NETWORK_FILE): NetworkPeer {
  const peer = network.peers.find((p) => p.name === name);
  if (!peer) {
    const known = network.peers.map((p) => p.name).join(", ") || "none";
    throw new PeerError("unknown_peer", `No peer "${name}" in ${file} (known: ${known}).`);
  }
  return peer;
}

/** A client for the peer called `name` in a network file. */
export async function clientForPeer(
  name: string,
  options: { network?: string } & Omit<PeerClientOptions, "url" | "token" | "name"> = {},
): Promise<PeerClient> {
  const { network: file = DEFAULT_NETWORK_FILE, ...rest } = options;
  const peer = findPeer(await readNetwork(file), name, file);
  return new PeerClient({ fetch: nodeFetch, ...rest, url: peer.url, token: peer.token, name: peer.name });
}

/** `set_remote_memory(peer, key, value)` of the original system, by peer name. */
export async function setRemoteMemory(
  peer: string,
  key: string,
  value: unknown,
  options: { network?: string; ttlSeconds?: number } = {},
): Promise<void> {
  await (await clientForPeer(peer, options)).setMemory(key, value, options.ttlSeconds);
}

/** `get_remote_memory(peer, key)` of the original system, by peer name. */
export async function getRemoteMemory(peer: string, key: string, options: { network?: string } = {}): Promise<unknown> {
  return (await clientForPeer(peer, options)).getMemory(key);
}

/** A file on disk as an upload source: any byte range can be streamed again (for parallel parts). */
export async function fileSource(path: string): Promise<RandomAccessSource> {
  const info = await stat(path);
  if (!info.isFile()) throw new PeerError("bad_request", `${path} is not a regular file.`);
  return { size: info.size, open: (start, end) => fileRange(path, start, end) };
}

/**
 * Bytes `[start, end)` of a file as a pull-based stream: one chunk is read from disk only
 * when the consumer asks for it, so memory stays at one chunk however big the file is.
 */
export function fileRange(path: string, start: number, end: number): ReadableStream<Uint8Array> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  let position = start;
  const close = async () => {
    const h = handle;
    handle = undefined;
    await h?.close();
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          handle ??= await open(path, "r");
          const n = Math.min(CHUNK, end - position);
          if (n <= 0) {
            await close();
            return controller.close();
          }
          const buffer = Buffer.allocUnsafe(n);
          const { bytesRead } = await handle.read(buffer, 0, n, position);
          if (bytesRead === 0) throw new PeerError("source_failed", `${path} is shorter than it was (it changed while being sent).`);
          position += bytesRead;
          controller.enqueue(new Uint8Array(buffer.buffer, buffer.byteOffset, bytesRead));
        } catch (err) {
          await close().catch(() => undefined);
          controller.error(err);
        }
      },
      cancel: close,
    },
    { highWaterMark: 0 },
  );
}

/** Hex SHA-256 of a file, read through one reused buffer (constant memory, no garbage). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.allocUnsafe(1024 * 1024);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}

/**
 * Streams a download into `path` atomically: bytes go to a temporary file beside it,
 * are hashed on the way, and the file is renamed into place only when the SHA-256
 * matches `expectedSha256` (when given). On any failure nothing is left at `path`.
 */
export async function saveStream(
  body: ReadableStream<Uint8Array>,
  path: string,
  options: { expectedSha256?: string | null; onProgress?: (written: number) => void } = {},
): Promise<{ bytes: number; sha256: string }> {
  const temp = `${path}.part-${randomBytes(4).toString("hex")}`;
  const out = createWriteStream(temp);
  try {
    const written = await writeStream(body, out, options.onProgress);
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    if (options.expectedSha256 && options.expectedSha256 !== written.sha256) {
      throw new PeerError(
        "verify_failed",
        `The downloaded bytes have SHA-256 ${written.sha256}, not ${options.expectedSha256}; nothing was saved.`,
      );
    }
    await rename(temp, path);
    return written;
  } catch (err) {
    out.destroy();
    await rm(temp, { force: true });
    throw err;
  }
}

/** Streams a download into a Node writable (a file, stdout) under backpressure, hashing it. */
export async function writeStream(
  body: ReadableStream<Uint8Array>,
  out: Writable,
  onProgress?: (written: number) => void,
): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash("sha256");
  let bytes = 0;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
      bytes += value.byteLength;
      onProgress?.(bytes);
      if (!out.write(value)) {
        await new Promise<void>((resolve, reject) => {
          const onDrain = () => {
            out.off("error", onError);
            resolve();
          };
          const onError = (err: Error) => {
            out.off("drain", onDrain);
            reject(err);
          };
          out.once("drain", onDrain);
          out.once("error", onError);
        });
      }
    }
  } catch (err) {
    await reader.cancel(err).catch(() => undefined);
    throw err;
  }
  return { bytes, sha256: hash.digest("hex") };
}

export * from "./index";
