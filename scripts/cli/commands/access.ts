import { type TokenInfo, type TokenRequest, narrowToken } from "../../../src/client/index";
import { UsageError } from "../args";
import type { Command } from "../command";

const OPS = ["read", "write", "delete", "memory", "tasks"] as const;
const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** A duration such as `7d`, `12h`, `90m`, `3600` (seconds), in whole seconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+)\s*([smhdw])?$/i.exec(text.trim());
  const seconds = m ? Number(m[1]) * (UNITS[(m[2] ?? "s").toLowerCase()] ?? 1) : Number.NaN;
  if (!Number.isSafeInteger(seconds) || seconds < 1) throw new UsageError(`--${flag} must be a duration like 7d, 12h, 90m or 3600.`);
  return seconds;
}

function parseOps(text: string): TokenRequest["ops"] {
  const ops = text
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean);
  const unknown = ops.find((o) => !(OPS as readonly string[]).includes(o));
  if (unknown !== undefined || ops.length === 0) throw new UsageError(`--ops is a comma list of ${OPS.join(", ")}.`);
  return ops as TokenRequest["ops"];
}

const describeToken = (t: Pick<TokenInfo, "id" | "ops" | "prefix" | "expires" | "label">) =>
  `${t.id}\t${t.ops.join(",")}\t${t.prefix || "(everything)"}\t${t.expires ? `expires ${t.expires}` : "until revoked"}${t.label ? `\t${t.label}` : ""}`;

const createToken: Command = {
  name: "create",
  summary: "mint a scoped token (shown once): what it may do, under which prefix, for how long",
  usage: "--ops read[,write,delete,memory,tasks] [--prefix P] [--ttl 7d] [--label TEXT]",
  flags: { ops: "string", prefix: "string", ttl: "string", label: "string" },
  async run(ctx) {
    const request: TokenRequest = { ops: parseOps(ctx.flags.required("ops")) };
    const prefix = ctx.flags.string("prefix");
    if (prefix) request.prefix = prefix;
    const ttl = ctx.flags.string("ttl");
    if (ttl !== undefined) request.ttl = parseDuration(ttl, "ttl");
    const label = ctx.flags.string("label");
    if (label !== undefined) request.label = label;
    const minted = await (await ctx.client()).createToken(request);
    if (ctx.json) return ctx.printJson(minted);
    ctx.print(minted.token);
    // The secret alone on stdout (for `$(…)`); what it is, on stderr.
    process.stderr.write(`token ${describeToken(minted)} — shown only now; revoke with \`edgepeer token revoke --id ${minted.id}\`\n`);
  },
};

const listTokens: Command = {
  name: "list",
  summary: "list the scoped tokens (never their secrets)",
  usage: "",
  flags: {},
  async run(ctx) {
    const tokens = await (await ctx.client()).listTokens();
    if (ctx.json) return ctx.printJson({ tokens });
    if (tokens.length === 0) ctx.print("no scoped tokens");
    for (const t of tokens) ctx.print(describeToken(t));
  },
};

const revokeToken: Command = {
  name: "revoke",
  summary: "revoke a scoped token at once",
  usage: "--id ID",
  flags: { id: "string" },
  async run(ctx) {
    const id = ctx.flags.required("id");
    await (await ctx.client()).revokeToken(id);
    if (ctx.json) ctx.printJson({ revoked: id });
    else ctx.print(`revoked token ${id}`);
  },
};

const narrow: Command = {
  name: "narrow",
  summary: "narrow a scoped token offline (fewer ops, a longer prefix, a shorter life): no peer is asked, the peer checks the chain",
  usage: "--from TOKEN [--ops read,…] [--prefix P] [--ttl 1d]",
  flags: { from: "string", ops: "string", prefix: "string", ttl: "string" },
  async run(ctx) {
    const from = ctx.flags.required("from");
    const ops = ctx.flags.string("ops");
    const ttl = ctx.flags.string("ttl");
    let narrowed: string;
    try {
      narrowed = await narrowToken(from, {
        ops: ops === undefined ? undefined : parseOps(ops),
        prefix: ctx.flags.string("prefix"),
        ttlSeconds: ttl === undefined ? undefined : parseDuration(ttl, "ttl"),
      });
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
    if (ctx.json) ctx.printJson({ token: narrowed });
    else ctx.print(narrowed);
  },
};

export const token: Command = {
  name: "token",
  summary: "scoped tokens: narrower than the peer token, for people and other peers",
  usage: "create|list|revoke|narrow",
  flags: {},
  subcommands: [createToken, listTokens, revokeToken, narrow],
};

const listShares: Command = {
  name: "list",
  summary: "list the share links (never their URLs or passwords)",
  usage: "",
  flags: {},
  async run(ctx) {
    const shares = await (await ctx.client()).listShares();
    if (ctx.json) return ctx.printJson({ shares });
    if (shares.length === 0) ctx.print("no share links");
    for (const s of shares) {
      const cap = s.maxDownloads === null ? `${s.downloads} downloads` : `${s.downloads}/${s.maxDownloads} downloads`;
      ctx.print(`${s.id}\t${s.name}\texpires ${s.expires}\t${cap}${s.password ? "\tpassword" : ""}`);
    }
  },
};

const revokeShare: Command = {
  name: "revoke",
  summary: "revoke a share link: it answers 410 from then on",
  usage: "--id ID",
  flags: { id: "string" },
  async run(ctx) {
    const id = ctx.flags.required("id");
    await (await ctx.client()).revokeShare(id);
    if (ctx.json) ctx.printJson({ revoked: id });
    else ctx.print(`revoked share link ${id}`);
  },
};

export const shares: Command = {
  name: "shares",
  summary: "share links made by `share`: list and revoke",
  usage: "list|revoke",
  flags: {},
  subcommands: [listShares, revokeShare],
};
