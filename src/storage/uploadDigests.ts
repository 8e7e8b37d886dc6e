import { type Hash, newSha256 } from "./hashing";

/**
 * The SHA-256 of a multipart upload, computed while its parts arrive instead of by reading the
 * assembled file back at `complete` (which took half the time of a whole upload, BENCHMARKS.md).
 *
 * SHA-256 must see the bytes in order; parts arrive in any order and several at once. So each
 * upload this isolate created has a *chain*: the digest of parts 1…k so far. The part k+1 is
 * hashed as it streams to R2. A later part streams to R2 at once too, and keeps its bytes in
 * memory until the chain reaches it — then they are hashed in whichever request moved the chain
 * there. No request ever waits for another (workerd forbids one request to resume another's
 * promises, and a client that sends parts one by one out of order would wait forever).
 *
 * Memory is bounded: past `MAX_WAITING_BYTES` held for the whole isolate, a part is stored
 * without being hashed, and so is any part that arrives out of turn for another reason (a
 * second copy of a part in flight, a retry of a hashed part, a part served by another isolate).
 * The chain stops before such a part. At `complete`, the chain is used only if the parts listed
 * begin with exactly the parts it hashed (same numbers, same etags, in order); what follows is
 * read back from the chain's end. Anything else reads the whole file back. So a chain can make
 * completion faster, never wrong: the digest covers exactly the bytes R2 assembled.
 */

/** Bytes of parts waiting for their turn that one isolate holds at most (two 16 MiB parts). */
const MAX_WAITING_BYTES = 32 * 1024 * 1024;
/** Uploads one isolate follows at most; past it the oldest is forgotten (its completion reads back). */
const MAX_CHAINS = 256;
/** A chain no part has joined for this long is forgotten, with the bytes it holds. */
const IDLE_MS = 15 * 60 * 1000;

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
  /** Parts that will join the digest when the chain reaches them, by number. */
  readonly lined = new Map<number, Turn>();
  closed = false;
  /**
   * A part number was sent again while hashed or in line. Its etag alone cannot tell the two
   * versions apart (R2's part etag is an MD5, which can be made to collide): read back.
   */
  tainted = false;
  touched = Date.now();

  /** Hashes every part now at the head of the line that is complete; starts the one streaming. */
  advance(): void {
    for (let turn = this.lined.get(this.next); turn; turn = this.lined.get(this.next)) {
      if (!turn.takeTurn()) return;
    }
  }

  /** Drops `from` and every part lined up after it: they are stored unhashed. */
  dropFrom(from: number): void {
    for (const [n, turn] of [...this.lined]) if (n >= from) turn.drop();
  }

  close(): void {
    this.closed = true;
    this.dropFrom(0);
  }
}

const chains = new Map<string, Chain>();
let waitingBytes = 0;

const chainKey = (name: string, uploadId: string) => `${uploadId}\n${name}`;

/** A part's place in its upload's digest. Feed it every chunk in order, then `stored` or `fail`. */
export class Turn {
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private size = 0;
  private etag: string | null = null;
  private state: "waiting" | "active" | "done" | "dropped" = "waiting";
  /** The digest before this part, to go back to if the part fails while being hashed. */
  private checkpoint: Hash | null = null;

  constructor(
    private readonly chain: Chain,
    readonly part: number,
  ) {}

  /** One chunk of the part, in order. */
  feed(chunk: Uint8Array): void {
    if (this.state === "dropped" || this.state === "done") return;
    this.size += chunk.byteLength;
    if (this.state === "active") {
      this.chain.hash.update(chunk);
      return;
    }
    if (waitingBytes + chunk.byteLength > MAX_WAITING_BYTES) {
      this.chain.dropFrom(this.part);
      return;
    }
    this.queue.push(chunk);
    this.queued += chunk.byteLength;
    waitingBytes += chunk.byteLength;
  }

  /** Storage accepted the whole part as `etag`: it joins the digest now, or when the chain reaches it. */
  stored(etag: string): void {
    if (this.state === "dropped" || this.state === "done") return;
    this.etag = etag;
    if (this.state === "active") this.finish();
  }

  /** The part was not stored: the digest goes back to before it; the parts after it are stored unhashed. */
  fail(): void {
    if (this.state === "dropped" || this.state === "done") return;
    this.chain.dropFrom(this.part);
  }

  /** This part is not hashed after all; if it was being hashed, the digest goes back to before it. */
  drop(): void {
    if (this.state === "dropped" || this.state === "done") return;
    if (this.state === "active" && this.checkpoint) this.chain.hash = this.checkpoint;
    this.state = "dropped";
    this.release();
    if (this.chain.lined.get(this.part) === this) this.chain.lined.delete(this.part);
  }

  /**
   * The chain has reached this part: hashes what it holds. True when the part is complete (the
   * chain moved past it), false while it is still streaming (it hashes the rest as it comes).
   */
  takeTurn(): boolean {
    if (this.state !== "waiting") return false;
    this.checkpoint = this.chain.hash.copy();
    this.state = "active";
    for (const chunk of this.queue) this.chain.hash.update(chunk);
    this.release();
    if (this.etag === null) return false;
    this.finish();
    return true;
  }

  private finish(): void {
    const { chain } = this;
    chain.hashed.push({ part: this.part, etag: this.etag!, size: this.size });
    chain.bytes += this.size;
    chain.next = this.part + 1;
    chain.lined.delete(this.part);
    this.state = "done";
    this.checkpoint = null;
    chain.advance();
  }

  private release(): void {
    waitingBytes -= this.queued;
    this.queued = 0;
    this.queue.length = 0;
  }
}

function forgetIdle(now: number): void {
  for (const [key, chain] of chains) {
    if (now - chain.touched < IDLE_MS) continue;
    chain.close();
    chains.delete(key);
  }
}

/** Starts following a new upload's digest. */
export function startChain(name: string, uploadId: string): void {
  forgetIdle(Date.now());
  if (chains.size >= MAX_CHAINS) {
    const [oldest] = chains;
    if (oldest) {
      oldest[1].close();
      chains.delete(oldest[0]);
    }
  }
  chains.set(chainKey(name, uploadId), new Chain());
}

/** The turn of a part that can still join its upload's digest, or null (it is stored unhashed). */
export function joinChain(name: string, uploadId: string, part: number): Turn | null {
  const chain = chains.get(chainKey(name, uploadId));
  if (!chain || chain.closed) return null;
  if (part < chain.next || chain.lined.has(part)) {
    chain.tainted = true;
    return null;
  }
  chain.touched = Date.now();
  const turn = new Turn(chain, part);
  chain.lined.set(part, turn);
  if (part === chain.next) turn.takeTurn();
  return turn;
}

/**
 * Ends the chain of an upload being completed. When the completed parts begin with exactly the
 * parts the chain hashed, gives the digest so far, the offset to read on from, and whether it
 * is `whole` (every part listed was hashed: the digest is final before R2 assembles a byte);
 * else null.
 */
export function takeChain(
  name: string,
  uploadId: string,
  parts: readonly { partNumber: number; etag: string }[],
): { hash: Hash; offset: number; whole: boolean } | null {
  const key = chainKey(name, uploadId);
  const chain = chains.get(key);
  if (!chain) return null;
  chains.delete(key);
  chain.close();
  if (chain.tainted || parts.length < chain.hashed.length) return null;
  const matches = chain.hashed.every((h, i) => parts[i]?.partNumber === h.part && parts[i]?.etag === h.etag);
  return matches ? { hash: chain.hash, offset: chain.bytes, whole: chain.hashed.length === parts.length } : null;
}

/** Forgets an aborted upload. */
export function dropChain(name: string, uploadId: string): void {
  const key = chainKey(name, uploadId);
  chains.get(key)?.close();
  chains.delete(key);
}

/** Bytes this isolate holds for parts waiting their turn. */
export const waitingPartBytes = () => waitingBytes;

/** What completions in this isolate had to read back, in bytes (the tests read it). */
export const readBack = { completions: 0, bytes: 0 };
