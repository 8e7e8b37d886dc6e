import type { Command } from "../command";

/** A value as typed: JSON when it parses (`42`, `{"a":1}`, `"text"`), else the plain string. */
export function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export const setMem: Command = {
  name: "set-mem",
  summary: "store a value under a key (JSON when it parses, else a string)",
  usage: "--key KEY --value VALUE [--ttl SECONDS]",
  flags: { key: "string", value: "string", ttl: "string" },
  async run(ctx) {
    const key = ctx.flags.required("key");
    const raw = ctx.flags.string("value");
    if (raw === undefined) ctx.flags.required("value");
    const client = await ctx.client();
    await client.setMemory(key, parseValue(raw ?? ""), ctx.flags.int("ttl", 60));
    if (ctx.json) ctx.printJson({ key });
    else ctx.print(`set ${key} on ${client.name}`);
  },
};

export const getMem: Command = {
  name: "get-mem",
  summary: "print the value of a key (strings as they are, anything else as JSON)",
  usage: "--key KEY",
  flags: { key: "string" },
  async run(ctx) {
    const key = ctx.flags.required("key");
    const value = await (await ctx.client()).getMemory(key);
    if (ctx.json) ctx.printJson({ key, value });
    else ctx.print(typeof value === "string" ? value : JSON.stringify(value));
  },
};

export const listMem: Command = {
  name: "list-mem",
  summary: "list the memory keys of a peer",
  usage: "[--prefix PREFIX]",
  flags: { prefix: "string" },
  async run(ctx) {
    const client = await ctx.client();
    const keys = [];
    let cursor: string | undefined;
    do {
      const page = await client.listMemory({ prefix: ctx.flags.string("prefix"), cursor });
      keys.push(...page.keys);
      cursor = page.cursor ?? undefined;
    } while (cursor);
    if (ctx.json) return ctx.printJson({ keys });
    for (const k of keys) ctx.print(k.expires ? `${k.key}\t(expires ${k.expires})` : k.key);
  },
};

export const delMem: Command = {
  name: "del-mem",
  summary: "delete a key",
  usage: "--key KEY",
  flags: { key: "string" },
  async run(ctx) {
    const key = ctx.flags.required("key");
    const client = await ctx.client();
    await client.deleteMemory(key);
    if (ctx.json) ctx.printJson({ deleted: key });
    else ctx.print(`deleted ${key} on ${client.name}`);
  },
};
