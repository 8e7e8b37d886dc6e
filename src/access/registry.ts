import { DurableObject } from "cloudflare:workers";
import type { PeerEnv } from "../env";
import type { Op } from "./scope";

/** A minted scoped token as the registry keeps it (never its secret). */
export interface TokenRecord {
  id: string;
  ops: Op[];
  prefix: string;
  /** Unix seconds, or null: until revoked. */
  expires: number | null;
  label: string;
  /** Unix seconds. */
  created: number;
}

/** A PBKDF2 hash of a share link's password. */
export interface PasswordHash {
  salt: string;
  hash: string;
  iterations: number;
}

/** A share link as the registry keeps it. */
export interface ShareRecord {
  id: string;
  name: string;
  /** The version the link serves: the R2 object's version and ETag when it was shared. */
  version: string;
  etag: string;
  /** Unix seconds. */
  expires: number;
  maxDownloads: number | null;
  downloads: number;
  password: PasswordHash | null;
  created: number;
}

/** Most tokens one peer keeps at a time (expired ones are dropped first). */
export const TOKENS_MAX = 1000;
/** Most share links one peer keeps at a time (expired ones are dropped first); transfers make one each. */
export const SHARES_MAX = 10_000;

const TOKEN = "token:";
const SHARE = "share:";

const now = () => Math.floor(Date.now() / 1000);

/**
 * The peer's access registry: scoped tokens and share links, in one Durable Object per peer.
 * A Durable Object is consistent — a revoked id is refused by the next request on every
 * isolate, and a download counter cannot be overtaken by a concurrent one (its methods run
 * one at a time). Keys are `token:<id>` and `share:<id>`, ids of fixed length made here.
 * Live token ids are also kept in memory, so the hot-path check reads no storage.
 */
export class AccessRegistry extends DurableObject<PeerEnv> {
  private live: Map<string, number | null> | null = null;
  private shareCount: number | null = null;

  private async liveTokens(): Promise<Map<string, number | null>> {
    if (!this.live) {
      const records = await this.ctx.storage.list<TokenRecord>({ prefix: TOKEN });
      this.live = new Map([...records.values()].map((r) => [r.id, r.expires]));
    }
    return this.live;
  }

  /** Whether token `id` was minted here and not revoked. */
  async tokenLive(id: string): Promise<boolean> {
    return (await this.liveTokens()).has(id);
  }

  /** Records a new token; false when the registry is full. */
  async addToken(record: TokenRecord): Promise<boolean> {
    const live = await this.liveTokens();
    if (live.size >= TOKENS_MAX) await this.dropExpired(TOKEN);
    if (live.size >= TOKENS_MAX) return false;
    await this.ctx.storage.put(TOKEN + record.id, record);
    live.set(record.id, record.expires);
    return true;
  }

  /** Every token not yet expired, oldest first. */
  async listTokens(): Promise<TokenRecord[]> {
    await this.dropExpired(TOKEN);
    return sortByCreated([...(await this.ctx.storage.list<TokenRecord>({ prefix: TOKEN })).values()]);
  }

  /** Revokes a token; false when there is none with that id. */
  async revokeToken(id: string): Promise<boolean> {
    const live = await this.liveTokens();
    live.delete(id);
    return this.ctx.storage.delete(TOKEN + id);
  }

  /** Records a new share link; false when the registry is full. */
  async addShare(record: ShareRecord): Promise<boolean> {
    this.shareCount ??= (await this.ctx.storage.list({ prefix: SHARE })).size;
    if (this.shareCount >= SHARES_MAX) await this.dropExpired(SHARE);
    if (this.shareCount >= SHARES_MAX) return false;
    await this.ctx.storage.put(SHARE + record.id, record);
    this.shareCount += 1;
    return true;
  }

  /** A share link, or null once revoked (or never made). */
  async share(id: string): Promise<ShareRecord | null> {
    return (await this.ctx.storage.get<ShareRecord>(SHARE + id)) ?? null;
  }

  /**
   * Counts one download of share `id` unless its cap is reached; false when it is (or the
   * link is gone). Methods of a Durable Object never interleave between the read and the
   * write here (no other I/O in between), so concurrent downloads are counted exactly.
   */
  async claimDownload(id: string): Promise<boolean> {
    const record = await this.ctx.storage.get<ShareRecord>(SHARE + id);
    if (!record) return false;
    if (record.maxDownloads !== null && record.downloads >= record.maxDownloads) return false;
    record.downloads += 1;
    await this.ctx.storage.put(SHARE + id, record);
    return true;
  }

  /** Every share link not yet expired, oldest first. */
  async listShares(): Promise<ShareRecord[]> {
    await this.dropExpired(SHARE);
    return sortByCreated([...(await this.ctx.storage.list<ShareRecord>({ prefix: SHARE })).values()]);
  }

  /** Revokes a share link; false when there is none with that id. */
  async revokeShare(id: string): Promise<boolean> {
    const deleted = await this.ctx.storage.delete(SHARE + id);
    if (deleted && this.shareCount !== null) this.shareCount -= 1;
    return deleted;
  }

  /** Drops expired records under `prefix`; how many. */
  private async dropExpired(prefix: string): Promise<number> {
    const t = now();
    const records = await this.ctx.storage.list<{ id: string; expires: number | null }>({ prefix });
    const expired = [...records.values()].filter((r) => r.expires !== null && r.expires < t).map((r) => r.id);
    for (let i = 0; i < expired.length; i += 128) await this.ctx.storage.delete(expired.slice(i, i + 128).map((id) => prefix + id));
    if (prefix === TOKEN) for (const id of expired) this.live?.delete(id);
    if (prefix === SHARE && this.shareCount !== null) this.shareCount -= expired.length;
    return expired.length;
  }
}

const sortByCreated = <T extends { created: number; id: string }>(list: T[]) =>
  list.sort((a, b) => a.created - b.created || a.id.localeCompare(b.id));

const ids = new WeakMap<DurableObjectNamespace<AccessRegistry>, DurableObjectId>();

/**
 * The peer's one registry. The object's id is named once per isolate (a stub cannot be kept:
 * it belongs to the request that made it).
 */
export function accessRegistry(env: PeerEnv): DurableObjectStub<AccessRegistry> {
  let id = ids.get(env.ACCESS);
  if (!id) {
    id = env.ACCESS.idFromName("access");
    ids.set(env.ACCESS, id);
  }
  return env.ACCESS.get(id);
}
