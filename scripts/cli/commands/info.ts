import type { Command } from "../command";
import { formatBytes, table } from "../output";

export const health: Command = {
  name: "health",
  summary: "is the peer up (no token needed)",
  usage: "",
  flags: {},
  async run(ctx) {
    const client = await ctx.client();
    const h = await client.health();
    if (ctx.json) ctx.printJson(h);
    else ctx.print(`${h.peer} at ${client.url} is up (version ${h.version}, time ${h.time})`);
  },
};

export const stats: Command = {
  name: "stats",
  aliases: ["status"],
  summary: "files, memory keys, tasks and cache of a peer",
  usage: "",
  flags: {},
  async run(ctx) {
    const client = await ctx.client();
    const s = await client.stats();
    if (ctx.json) return ctx.printJson(s);
    ctx.print(
      table([
        ["files", `${s.files.count} (${formatBytes(s.files.bytes)})`],
        ["memory keys", String(s.memory.keys)],
        [
          "tasks",
          `${s.tasks.total} (${s.tasks.succeeded} succeeded, ${s.tasks.failed} failed, ${s.tasks.cached} cached, avg ${s.tasks.avgDurationMs} ms)`,
        ],
        ["cached results", String(s.cache.entries)],
      ]),
    );
  },
};

export const peers: Command = {
  name: "peers",
  summary: "the peers this peer knows, and whether each is up",
  usage: "",
  flags: {},
  async run(ctx) {
    const client = await ctx.client();
    const known = await client.peers();
    const answers = await Promise.all(
      known.map(async (p) => {
        const h = await ctx
          .clientFor(p)
          .health(AbortSignal.timeout(5000))
          .catch(() => null);
        return { ...p, up: h !== null, version: h?.version ?? null };
      }),
    );
    if (ctx.json) return ctx.printJson({ peers: answers });
    if (answers.length === 0) return ctx.print(`${client.name} knows no other peer`);
    ctx.print(table(answers.map((p) => [p.name, p.url, p.up ? "up" : "down"])));
  },
};
