/**
 * Why a call to a peer failed. `code` is the contract's error code (`not_found`,
 * `checksum_mismatch`, …) or one of the client's own: `unreachable` (no answer at all),
 * `bad_response` (an answer that is not the contract's), `aborted`, `source_failed` (the
 * bytes being relayed stopped coming), `verify_failed` (checksums disagree),
 * `invalid_argument` (a name or id the contract refuses; nothing was sent).
 */
export class PeerError extends Error {
  /** HTTP status of the answer; 0 when there was none. */
  readonly status: number;
  readonly code: string;
  /** The peer that answered (or did not): its name or URL. */
  readonly peer: string;

  constructor(code: string, message: string, status = 0, peer = "") {
    super(message);
    this.name = "PeerError";
    this.code = code;
    this.status = status;
    this.peer = peer;
  }
}

/** A name or id refused before any request was made (status 0): the caller's mistake. */
export function invalidArgument(problem: string): PeerError {
  return new PeerError("invalid_argument", `${problem.replace(/\.$/, "")}; nothing was sent.`);
}

/** Turns a failed fetch (refused, reset, DNS…) into one clear sentence. */
export function unreachable(peer: string, err: unknown): PeerError {
  if (err instanceof PeerError) return err;
  if (err instanceof Error && (err.name === "AbortError" || err.name === "TimeoutError")) {
    return new PeerError("aborted", `The request to ${peer} was aborted.`, 0, peer);
  }
  return new PeerError("unreachable", `Could not reach ${peer}: ${describeCause(err)}.`, 0, peer);
}

/** The innermost reason of a network error, e.g. "connection refused". */
export function describeCause(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error && e.cause; depth++) e = e.cause;
  const code = (e as { code?: unknown } | null)?.code;
  const known: Record<string, string> = {
    ECONNREFUSED: "connection refused",
    ECONNRESET: "connection reset",
    ENOTFOUND: "host not found",
    ETIMEDOUT: "timed out",
    EPIPE: "connection closed",
    UND_ERR_SOCKET: "connection closed",
  };
  if (typeof code === "string" && known[code]) return known[code];
  const message = e instanceof Error ? e.message : String(e);
  return message.replace(/\.$/, "") || "unknown error";
}
