import type { ReplicationRuleStatus } from "../../../src/client/index";
import { UsageError } from "../args";
import type { Command } from "../command";

/** One line of `replicate list`: where a rule goes and how its deliveries stand. */
function describeRule(r: ReplicationRuleStatus): string {
  const health = r.lastError && (!r.lastSuccess || (r.lastErrorAt ?? "") > r.lastSuccess) ? `last error: ${r.lastError}` : "ok";
  const lag = r.lagMs === null ? "" : `, lag ${(r.lagMs / 1000).toFixed(1)} s`;
  return `${r.id}\t${r.prefix || "(everything)"} → ${r.to}:${r.as || "/"} (deletes ${r.deletes})\tpending ${r.pending}, failed ${r.failed}, last success ${r.lastSuccess ?? "never"}${lag}\t${health}`;
}

const add: Command = {
  name: "add",
  summary: "add (or replace) a rule: files under --prefix are copied to --to in the background",
  usage: "--id ID --prefix P --to PEER [--as P2] [--dest-token T] [--deletes mirror|keep]",
  flags: { id: "string", prefix: "string", to: "string", as: "string", "dest-token": "string", deletes: "string" },
  async run(ctx) {
    const id = ctx.flags.required("id");
    const prefix = ctx.flags.string("prefix");
    if (prefix === undefined) ctx.flags.required("prefix");
    const to = ctx.flags.required("to");
    const deletes = ctx.flags.string("deletes") ?? "mirror";
    if (deletes !== "mirror" && deletes !== "keep") throw new UsageError("--deletes is mirror or keep.");
    // The destination's token: given, else the network file's for that peer (its owner's own token).
    let token = ctx.flags.string("dest-token");
    if (!token) {
      const peer = (await ctx.network())?.peers.find((p) => p.name === to);
      if (!peer?.token) throw new UsageError(`--dest-token is required: no token for ${to} in ${ctx.networkFile}.`);
      token = peer.token;
    }
    const client = await ctx.client();
    const rule = await client.putReplicationRule(id, { prefix: prefix ?? "", to, as: ctx.flags.string("as"), token, deletes });
    if (ctx.json) ctx.printJson(rule);
    else ctx.print(`rule ${rule.id}: ${rule.prefix || "(everything)"} on ${client.name} → ${rule.to}:${rule.as} (deletes ${rule.deletes})`);
  },
};

const list: Command = {
  name: "list",
  summary: "list the rules with their delivery status",
  usage: "",
  flags: {},
  async run(ctx) {
    const rules = await (await ctx.client()).replicationRules();
    if (ctx.json) return ctx.printJson({ rules });
    if (rules.length === 0) ctx.print("no replication rules");
    for (const r of rules) ctx.print(describeRule(r));
  },
};

const remove: Command = {
  name: "remove",
  summary: "remove a rule (replicas already made stay)",
  usage: "--id ID",
  flags: { id: "string" },
  async run(ctx) {
    const id = ctx.flags.required("id");
    await (await ctx.client()).deleteReplicationRule(id);
    if (ctx.json) ctx.printJson({ removed: id });
    else ctx.print(`removed rule ${id}`);
  },
};

const reconcile: Command = {
  name: "reconcile",
  summary: "compare a rule's files with the destination now and queue every difference",
  usage: "--id ID",
  flags: { id: "string" },
  async run(ctx) {
    const id = ctx.flags.required("id");
    await (await ctx.client()).reconcileReplication(id);
    if (ctx.json) ctx.printJson({ reconciling: id });
    else ctx.print(`reconciling rule ${id}: differences are queued; see \`edgepeer replicate list\``);
  },
};

export const replicate: Command = {
  name: "replicate",
  summary: "opt-in background replication of a folder to another peer",
  usage: "add|list|remove|reconcile",
  flags: {},
  subcommands: [add, list, remove, reconcile],
};
