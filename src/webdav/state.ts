import { DurableObject } from "cloudflare:workers";
import type { PeerEnv } from "../env";
import type { OutNode } from "./xml";

/**
 * A WebDAV lock. `root` is the locked file or folder name ("" for /dav/ itself, folders
 * without their trailing `/`); a depth-infinity lock covers everything under it too.
 */
export interface DavLock {
  token: string;
  root: string;
  depth: "0" | "infinity";
  scope: "exclusive" | "shared";
  /** The client's `DAV:owner` element, given back as it came. */
  owner: OutNode | null;
  timeoutSeconds: number;
  /** Milliseconds since the epoch. */
  expires: number;
}

/** A resource a write touches, and how: itself, everything under it, or its parent's member list. */
export interface WriteTarget {
  name: string;
  /** The whole tree under `name` (DELETE, MOVE's source, an overwritten destination). */
  deep?: boolean;
  /** A member is added to or removed from the parent folder. */
  membership?: boolean;
}

/** One PROPPATCH instruction: set a dead property to a value, or remove it. */
export type PropChange = { op: "set"; name: string; value: OutNode } | { op: "remove"; name: string };

/** Dead properties of one resource: `{ns}local` → the property element as written. */
export type DeadProps = Record<string, OutNode>;

/** Most locks held at once per peer; past it a LOCK is refused (a bound on state). */
export const MAX_LOCKS = 10_000;
/** Most bytes of dead properties per resource (their JSON). */
export const MAX_PROPS_BYTES = 64 * 1024;

const LOCK_PREFIX = "lock:";
/** Dead properties by resource name: names are at most 1025 bytes, inside the 2 KiB key limit. */
const PROPS_PREFIX = "props:";
const propsKey = (name: string) => `${PROPS_PREFIX}${name}`;

const isUnder = (name: string, root: string) => root === "" || name === root || name.startsWith(`${root}/`);
const parentOf = (name: string) => (name.includes("/") ? name.slice(0, name.lastIndexOf("/")) : "");

/** Whether `lock` applies to `name`: its root, or under it for a depth-infinity lock. */
export const lockCovers = (lock: DavLock, name: string) =>
  lock.root === name || (lock.depth === "infinity" && isUnder(name, lock.root) && name !== lock.root);

/**
 * The peer's WebDAV state, in one Durable Object per peer so that every isolate sees the
 * same locks at once: locks (timeouts, refresh, conflicts, the check every write makes) and
 * dead properties. Each method runs start to end without interleaving (input gates), so a
 * conflict check and the lock it grants are one step.
 */
export class DavState extends DurableObject<PeerEnv> {
  private locks: Map<string, DavLock> | null = null;

  private async loaded(): Promise<Map<string, DavLock>> {
    if (!this.locks) {
      const stored = await this.ctx.storage.list<DavLock>({ prefix: LOCK_PREFIX });
      this.locks = new Map([...stored.values()].map((l) => [l.token, l]));
    }
    const now = Date.now();
    for (const lock of this.locks.values()) {
      if (lock.expires <= now) {
        this.locks.delete(lock.token);
        await this.ctx.storage.delete(LOCK_PREFIX + lock.token);
      }
    }
    return this.locks;
  }

  /** Grants a lock unless one that conflicts is held: then answers the conflicting lock's root. */
  async lock(request: Omit<DavLock, "token" | "expires">): Promise<{ lock: DavLock } | { conflict: string } | { full: true }> {
    const locks = await this.loaded();
    for (const held of locks.values()) {
      const overlaps = lockCovers(held, request.root) || (request.depth === "infinity" && isUnder(held.root, request.root));
      if (overlaps && (held.scope === "exclusive" || request.scope === "exclusive")) return { conflict: held.root };
    }
    if (locks.size >= MAX_LOCKS) return { full: true };
    const lock: DavLock = { ...request, token: `urn:uuid:${crypto.randomUUID()}`, expires: Date.now() + request.timeoutSeconds * 1000 };
    locks.set(lock.token, lock);
    await this.ctx.storage.put(LOCK_PREFIX + lock.token, lock);
    return { lock };
  }

  /** Renews the lock `token` that applies to `name`; null when there is none. */
  async refresh(name: string, token: string, timeoutSeconds: number): Promise<DavLock | null> {
    const lock = (await this.loaded()).get(token);
    if (!lock || !lockCovers(lock, name)) return null;
    lock.timeoutSeconds = timeoutSeconds;
    lock.expires = Date.now() + timeoutSeconds * 1000;
    await this.ctx.storage.put(LOCK_PREFIX + lock.token, lock);
    return lock;
  }

  /** Removes the lock `token` if it applies to `name`; false otherwise. */
  async unlock(name: string, token: string): Promise<boolean> {
    const locks = await this.loaded();
    const lock = locks.get(token);
    if (!lock || !lockCovers(lock, name)) return false;
    locks.delete(token);
    await this.ctx.storage.delete(LOCK_PREFIX + token);
    return true;
  }

  /** The locks that apply to each of `names` (for `DAV:lockdiscovery` and `If:` state tokens). */
  async locksOn(names: string[]): Promise<Record<string, DavLock[]>> {
    const locks = [...(await this.loaded()).values()];
    return Object.fromEntries(names.map((n) => [n, locks.filter((l) => lockCovers(l, n))]));
  }

  /**
   * The first target a write may not touch without a lock token it did not submit, or null.
   * Of several shared locks on one resource, submitting any one of them is enough.
   */
  async blocked(targets: WriteTarget[], submitted: string[]): Promise<string | null> {
    const locks = [...(await this.loaded()).values()];
    if (locks.length === 0) return null;
    const given = new Set(submitted);
    for (const target of targets) {
      const applying = locks.filter(
        (l) =>
          lockCovers(l, target.name) ||
          (target.deep && isUnder(l.root, target.name)) ||
          (target.membership && target.name !== "" && l.root === parentOf(target.name)),
      );
      for (const lock of applying) {
        if (given.has(lock.token)) continue;
        const sharedAndHeld =
          lock.scope === "shared" && applying.some((o) => o.scope === "shared" && o.root === lock.root && given.has(o.token));
        if (!sharedAndHeld) return lock.root;
      }
    }
    return null;
  }

  /** Drops the locks on `name` and under it (the resource is gone). */
  async dropLocks(name: string): Promise<void> {
    const locks = await this.loaded();
    for (const lock of [...locks.values()]) {
      if (isUnder(lock.root, name)) {
        locks.delete(lock.token);
        await this.ctx.storage.delete(LOCK_PREFIX + lock.token);
      }
    }
  }

  // --- dead properties -------------------------------------------------------------------

  /** Dead properties of each name that has any. */
  async props(names: string[]): Promise<Record<string, DeadProps>> {
    const out: Record<string, DeadProps> = {};
    for (let i = 0; i < names.length; i += 128) {
      const batch = names.slice(i, i + 128);
      const found = await this.ctx.storage.get<DeadProps>(batch.map(propsKey));
      for (const name of batch) {
        const props = found.get(propsKey(name));
        if (props) out[name] = props;
      }
    }
    return out;
  }

  /** Applies every change in order, or none: false (and nothing stored) past `MAX_PROPS_BYTES`. */
  async patchProps(name: string, changes: PropChange[]): Promise<boolean> {
    const props: DeadProps = (await this.ctx.storage.get<DeadProps>(propsKey(name))) ?? {};
    for (const change of changes) {
      if (change.op === "set") props[change.name] = change.value;
      else delete props[change.name];
    }
    if (Object.keys(props).length === 0) {
      await this.ctx.storage.delete(propsKey(name));
      return true;
    }
    if (JSON.stringify(props).length > MAX_PROPS_BYTES) return false;
    await this.ctx.storage.put(propsKey(name), props);
    return true;
  }

  /** Copies (or moves) the dead properties of `from` and everything under it to `to`. */
  async copyProps(from: string, to: string, move: boolean): Promise<void> {
    await this.deleteProps(to);
    const moved = new Map<string, DeadProps>();
    const own = await this.ctx.storage.get<DeadProps>(propsKey(from));
    if (own) moved.set(from, own);
    for (const [key, props] of await this.ctx.storage.list<DeadProps>({ prefix: propsKey(from === "" ? "" : `${from}/`) })) {
      moved.set(key.slice(PROPS_PREFIX.length), props);
    }
    for (const [name, props] of moved) {
      await this.ctx.storage.put(propsKey(to + name.slice(from.length)), props);
      if (move) await this.ctx.storage.delete(propsKey(name));
    }
  }

  /** Deletes the dead properties of `name` and everything under it. */
  async deleteProps(name: string): Promise<void> {
    await this.ctx.storage.delete(propsKey(name));
    const under = await this.ctx.storage.list({ prefix: propsKey(name === "" ? "" : `${name}/`) });
    const keys = [...under.keys()];
    for (let i = 0; i < keys.length; i += 128) await this.ctx.storage.delete(keys.slice(i, i + 128));
  }
}
