import { type Hash, newSha256 } from "./hashing";

/**
 * The SHA-256 of a multipart upload, computed while its parts arrive instead of by reading the
 * assembled file back at `complete` (which took half the time of a whole upload, BENCHMARKS.md).
 *
 * SHA-256 must see the bytes in order, and parts arrive in any order and several at once. So
 * each upload this isolate created has a *chain*: the digest of parts 1…k so far. A part whose
 * predecessors (k+1…n-1) are all in flight in this isolate lines up behind them: it streams to
 * R2 at once, and its bytes wait in memory until its turn (past `MAX_WAITING_BYTES` for the
 * whole isolate, it stops reading its body until then, so memory stays bounded). Any other
 * part — out of order, a retry of an earlier part, a part served by another isolate — is
 * stored without being hashed, and the chain stops before it.
 *
 * At `complete`, the chain is used only if the parts listed begin with exactly the parts it
 * hashed (same numbers, same etags, in order); the rest of the file, if any, is read back from
 * the chain's end. Anything else reads the whole file back, as before. So a chain can make
 * completion faster, never wrong: the digest covers exactly the bytes R2 assembled.
 */

/** Bytes of parts waiting for their turn that one isolate holds at most (3 parts of 16 MiB in flight fit). */
const MAX_WAITING_BYTES = 32 * 1024 * 1024;
/** Uploads one isolate follows at most; past it the oldest is forgotten (its completion reads back). */
const MAX_CHAINS = 256;

interface HashedPart {
  part: number;
  etag: string;
  size: number;
}

class Chain {
  hash: Hash = newSha256();
  /** The part number whose bytes come next in the digest. */
  next = 1;
  /** Bytes hashed: the offset where the digest stops. */
  bytes = 0;
  readonly hashed: HashedPart[] = [];
  /** Parts in flight that hash in order, by number: `next`, `next + 1`, … without gaps. */
  readonly lined = new Map<number, Turn>();
  closed = false;

  close(): void {
    this.closed = true;
    for (const turn of [...this.lined.values()]) turn.drop();
  }
}

const chains = new Map<string, Chain>();
let waitingBytes = 0;

const chainKey = (name: string, uploadId: string) => `${uploadId}\n${name}`;

/** A part's place in its upload's digest. Feed it every chunk in order, then `commit` or `fail`. */
export class Turn {
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private size = 0;
  private state: "waiting" | "active" | "dropped" = "waiting";
  /** The digest before this part, to go back to if the part fails. */
  private checkpoint: Hash | null = null;
  private readonly started: Promise<void>;
  private wake!: () => void;

  constructor(
    private readonly chain: Chain,
    readonly part: number,
  ) {
    this.started = new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  /** One chunk of the part. Resolves at once, or — when the isolate holds too much — at this part's turn. */
  feed(chunk: Uint8Array): Promise<void> | undefined {
    if (this.state === "dropped") return;
    if (this.chain.closed) return this.drop();
    this.size += chunk.byteLength;
    if (this.state === "active") {
      this.chain.hash.update(chunk);
      return;
    }
    this.queue.push(chunk);
    this.queued += chunk.byteLength;
    waitingBytes += chunk.byteLength;
    return waitingBytes > MAX_WAITING_BYTES ? this.started : undefined;
  }

  /** Storage accepted the part as `etag`: waits for its turn, then moves the chain past it. */
  async commit(etag: string): Promise<void> {
    await this.started;
    if (this.state !== "active" || this.chain.closed) return;
    const { chain } = this;
    chain.hashed.push({ part: this.part, etag, size: this.size });
    chain.bytes += this.size;
    chain.next = this.part + 1;
    chain.lined.delete(this.part);
    this.state = "dropped";
    chain.lined.get(chain.next)?.activate();
  }

  /** The part was not stored: the digest goes back to before it; the parts behind it are stored unhashed. */
  fail(): void {
    if (this.state === "dropped") return;
    if (this.state === "active" && this.checkpoint) this.chain.hash = this.checkpoint;
    for (const [n, turn] of [...this.chain.lined]) if (n >= this.part) turn.drop();
  }

  /** This part is not hashed after all. */
  drop(): undefined {
    if (this.state === "dropped") return;
    this.state = "dropped";
    this.release();
    if (this.chain.lined.get(this.part) === this) this.chain.lined.delete(this.part);
    this.wake();
  }

  activate(): void {
    if (this.state !== "waiting") return;
    this.checkpoint = this.chain.hash.copy();
    this.state = "active";
    for (const chunk of this.queue) this.chain.hash.update(chunk);
    this.release();
    this.wake();
  }

  private release(): void {
    waitingBytes -= this.queued;
    this.queued = 0;
    this.queue.length = 0;
  }
}

/** Starts following a new upload's digest. */
export function startChain(name: string, uploadId: string): void {
  if (chains.size >= MAX_CHAINS) {
    const [oldest] = chains;
    if (oldest) {
      oldest[1].close();
      chains.delete(oldest[0]);
    }
  }
  chains.set(chainKey(name, uploadId), new Chain());
}

/** The turn of a part that can join its upload's digest in order, or null (it is stored unhashed). */
export function joinChain(name: string, uploadId: string, part: number): Turn | null {
  const chain = chains.get(chainKey(name, uploadId));
  if (!chain || chain.closed || part < chain.next || chain.lined.has(part)) return null;
  for (let k = chain.next; k < part; k++) if (!chain.lined.has(k)) return null;
  const turn = new Turn(chain, part);
  chain.lined.set(part, turn);
  if (part === chain.next) turn.activate();
  return turn;
}

/**
 * Ends the chain of a completed upload. When the completed parts begin with exactly the parts
 * the chain hashed, gives the digest so far and the offset to read on from; else null.
 */
export function takeChain(
  name: string,
  uploadId: string,
  parts: readonly { partNumber: number; etag: string }[],
): { hash: Hash; offset: number } | null {
  const key = chainKey(name, uploadId);
  const chain = chains.get(key);
  if (!chain) return null;
  chains.delete(key);
  chain.close();
  if (parts.length < chain.hashed.length) return null;
  const matches = chain.hashed.every((h, i) => parts[i]?.partNumber === h.part && parts[i]?.etag === h.etag);
  return matches ? { hash: chain.hash, offset: chain.bytes } : null;
}

/** Forgets an aborted upload. */
export function dropChain(name: string, uploadId: string): void {
  const key = chainKey(name, uploadId);
  chains.get(key)?.close();
  chains.delete(key);
}

/** Bytes this isolate holds for parts waiting their turn. */
export const waitingPartBytes = () => waitingBytes;

/** What completions in this isolate had to read back, in bytes (tests and the bench read it). */
export const readBack = { completions: 0, bytes: 0 };
