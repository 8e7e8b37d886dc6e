import { PeerError, type ReplicaStates } from "../client";
import type { AppContext } from "./context";
import { h } from "./dom";

type State = ReplicaStates["files"][number]["state"];

const BADGE: Record<State, { text: string; tone: string }> = {
  current: { text: "copy current", tone: "ok" },
  differs: { text: "copy differs", tone: "bad" },
  missing: { text: "not copied yet", tone: "pending" },
  unknown: { text: "copy unknown", tone: "pending" },
};

/** What the Files view needs to show, on each file of a replicated folder, whether its copy is current. */
export interface ReplicaMarks {
  /** Reads the state of the folder's files (its first listing page) under the rule that covers it, if any; null forgets. */
  load(folder: string | null): Promise<void>;
  /** Adds a badge to each file row (`tr[data-file]`) of `rows` whose state is known. */
  decorate(rows: HTMLElement): void;
}

/**
 * Replica badges for the Files view: the rule whose folder holds the one shown (the longest
 * such prefix), then `GET /api/replication/{id}/files` for it. Only the peer token manages
 * replication: for any other token (403) there is simply nothing to show.
 */
export function replicaMarks(ctx: AppContext): ReplicaMarks {
  let states = new Map<string, State>();
  let rule = "";
  let to = "";
  let error: string | null = null;
  let generation = 0;
  return {
    async load(folder) {
      const mine = ++generation;
      states = new Map();
      // Replication is the peer token's: a scoped token has nothing to ask.
      if (folder === null || !ctx.scope.peer) return;
      try {
        const rules = await ctx.client.replicationRules();
        const covering = rules.filter((r) => folder.startsWith(r.prefix)).sort((a, b) => b.prefix.length - a.prefix.length)[0];
        if (!covering || mine !== generation) return;
        const page = await ctx.client.replicaStates(covering.id, { prefix: folder });
        if (mine !== generation) return;
        states = new Map(page.files.map((f) => [f.name, f.state]));
        rule = covering.id;
        to = covering.to;
        error = page.error;
      } catch (err) {
        if (err instanceof PeerError && err.status === 403) return;
        ctx.fail(err, "Could not read whether the copies are current");
      }
    },
    decorate(rows) {
      for (const row of rows.querySelectorAll<HTMLTableRowElement>("tr[data-file]")) {
        const state = states.get(row.dataset.file ?? "");
        const cell = row.querySelector("td[data-label='Name']") ?? row.cells[1];
        if (!state || !cell || cell.querySelector("[data-replica]")) continue;
        const { text, tone } = BADGE[state];
        const why = state === "unknown" && error ? `: ${error}` : "";
        cell.append(
          " ",
          h("span", { class: `badge ${tone}`, "data-replica": state, title: `Replication rule ${rule} to ${to}${why}` }, text),
        );
      }
    },
  };
}
