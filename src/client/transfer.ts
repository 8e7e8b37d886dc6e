import type { PeerClient } from "./client";
import { fileNameProblem } from "../api/names";
import { PeerError, describeCause, invalidArgument } from "./errors";
import { watchStream } from "./streams";

/**
 * How bytes move: `pull` — the destination fetches a signed link from the source, nothing
 * passes through the caller; `relay` — the caller streams the source's GET into the
 * destination's PUT (multipart for big files), in constant memory.
 */
export type TransferMode = "pull" | "relay";

export interface TransferOptions {
  mode?: TransferMode;
  /** The name on the destination (default: the same name). */
  as?: string;
  /** Relay only: total bytes sent so far. */
  onProgress?: (sent: number, size: number) => void;
  signal?: AbortSignal;
  /** Lifetime of the signed link in pull mode (default 3600 s). */
  linkTtlSeconds?: number;
  /**
   * The source file's SHA-256 as the caller already knows it (from a listing): pull skips its
   * HEAD, and a source whose file no longer has this SHA-256 is refused before a byte moves
   * (relay) or its copy is not kept (pull).
   */
  expectedSha256?: string;
  /**
   * Pull only: the source's link to the file, already asked for — a sync asks for the next
   * files' links while earlier pulls run, so a share's round trip is not in each copy's path.
   */
  link?: Promise<string>;
}

export interface TransferResult {
  from: string;
  to: string;
  name: string;
  size: number;
  sha256: string;
  mode: TransferMode;
}

/**
 * Copies one file from `source` to `destination`, verified end to end by SHA-256: the
 * destination checks the bytes against the source's SHA-256 before it keeps anything, and
 * the stored file's SHA-256 is compared again here. A failure throws a `PeerError` whose
 * message names the peer at fault and leaves no partial or wrong file behind.
 */
export async function transferFile(
  source: PeerClient,
  destination: PeerClient,
  name: string,
  options: TransferOptions = {},
): Promise<TransferResult> {
  const mode = options.mode ?? "pull";
  const target = options.as ?? name;
  // Both names are checked before anything is asked of either peer.
  const problem = fileNameProblem(name) ?? (options.as === undefined ? null : fileNameProblem(options.as));
  if (problem) throw invalidArgument(problem);
  const { meta, expected } =
    mode === "pull" ? await pull(source, destination, name, target, options) : await relay(source, destination, name, target, options);
  if (meta.sha256 !== expected) {
    // The source's file changed after it was listed: the peer verified the bytes against the
    // source's new SHA-256, so its copy is good, but it is not the version that was asked for.
    if (mode === "pull" && options.expectedSha256 !== undefined) throw changedOnSource(source, name);
    // The peer verified the bytes, so this means something is badly wrong: never keep it.
    await destination.deleteFile(target).catch(() => undefined);
    throw new PeerError(
      "verify_failed",
      `${destination.name} stored "${target}" with SHA-256 ${meta.sha256}, not the source's ${expected}; it was deleted.`,
      0,
      destination.name,
    );
  }
  return { from: source.name, to: destination.name, name: target, size: meta.size, sha256: expected, mode };
}

async function pull(source: PeerClient, destination: PeerClient, name: string, target: string, options: TransferOptions) {
  let expected = options.expectedSha256;
  if (expected === undefined) {
    const info = await source.headFile(name, options.signal);
    if (!info) throw new PeerError("not_found", `${source.name} has no file "${name}".`, 404, source.name);
    expected = requireSha(source, name, info.sha256);
  }
  const link = await (options.link ?? source.shareFile(name, options.linkTtlSeconds ?? 3600, options.signal).then((made) => made.url));
  try {
    const meta = await destination.pullFile(target, link, options.signal);
    options.onProgress?.(meta.size, meta.size);
    return { meta, expected };
  } catch (err) {
    throw inContext(err, destination, `pulling "${name}" from ${source.name}`);
  }
}

async function relay(source: PeerClient, destination: PeerClient, name: string, target: string, options: TransferOptions) {
  let download;
  try {
    download = await source.getFile(name, { signal: options.signal });
  } catch (err) {
    if (err instanceof PeerError && err.code === "not_found") {
      throw new PeerError("not_found", `${source.name} has no file "${name}".`, 404, source.name);
    }
    throw err;
  }
  const expected = requireSha(source, name, download.sha256);
  if (options.expectedSha256 !== undefined && options.expectedSha256 !== expected) {
    await download.body.cancel().catch(() => undefined);
    throw changedOnSource(source, name);
  }
  const size = download.size;
  const watched = watchStream(download.body);
  try {
    const meta = await destination.upload(
      target,
      { size, body: watched.stream },
      {
        sha256: expected,
        contentType: download.contentType,
        signal: options.signal,
        onProgress: options.onProgress && ((sent) => options.onProgress?.(sent, size)),
      },
    );
    return { meta, expected };
  } catch (err) {
    const broken = watched.failure();
    if (broken !== undefined) {
      throw new PeerError(
        "source_failed",
        `The download from ${source.name} broke off (${describeCause(broken)}); nothing was kept on ${destination.name}.`,
        0,
        source.name,
      );
    }
    await download.body.cancel().catch(() => undefined);
    throw inContext(err, destination, `storing "${target}"`);
  }
}

/** A source's file no longer has the SHA-256 it was listed with. */
export const changedOnSource = (source: PeerClient, name: string): PeerError =>
  new PeerError(
    "changed",
    `"${name}" changed on ${source.name} while it was being copied; run again to copy its new version.`,
    0,
    source.name,
  );

function requireSha(source: PeerClient, name: string, sha256: string | null): string {
  if (!sha256)
    throw new PeerError(
      "verify_failed",
      `${source.name} reports no SHA-256 for "${name}", so a copy could not be verified.`,
      0,
      source.name,
    );
  return sha256;
}

/** Prefixes a destination's error with the peer and the step, keeping its code. */
function inContext(err: unknown, peer: PeerClient, step: string): PeerError {
  if (!(err instanceof PeerError)) return new PeerError("internal", `${peer.name}: ${step} failed: ${describeCause(err)}.`, 0, peer.name);
  if (err.code === "unreachable" || err.message.startsWith(peer.name)) return err;
  return new PeerError(err.code, `${peer.name}: ${step} failed: ${err.message}`, err.status, err.peer || peer.name);
}
