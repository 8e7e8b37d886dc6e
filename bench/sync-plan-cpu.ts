/**
 * The client's own work in a sync with nothing to do: the two listing pages of 1,000 identical
 * files served from memory (no peer, no network), parsed alone, then merged and planned
 * (`planSync`), then the whole `syncPeers`. What the second sync row spends beyond its
 * listing, minus this, is the peers' and the machine's.
 *
 *   npx tsx bench/sync-plan-cpu.ts [--files N] [--rounds N]
 */
import { parseArgs } from "node:util";
import { type FetchLike, type FileMeta, PeerClient, planSync, syncPeers } from "../src/client/index";

const { values } = parseArgs({ options: { files: { type: "string", default: "1000" }, rounds: { type: "string", default: "3" } } });
const count = Number(values.files);
const files: FileMeta[] = Array.from({ length: count }, (_, i) => ({
  name: `small/${String(i).padStart(6, "0")}.bin`,
  size: 4096,
  etag: "e",
  sha256: "a".repeat(64),
  contentType: "application/octet-stream",
  uploaded: "2026-01-01T00:00:00.000Z",
}));
const page = JSON.stringify({ files, cursor: null });
const fetch: FetchLike = async () => new Response(page, { headers: { "content-type": "application/json" } }) as never;
const a = new PeerClient({ url: "http://a.test", name: "a", fetch });
const b = new PeerClient({ url: "http://b.test", name: "b", fetch });
const cases: [string, () => Promise<unknown>][] = [
  ["parse both pages", () => Promise.all([a.listFiles({ prefix: "small/", limit: 1000 }), b.listFiles({ prefix: "small/", limit: 1000 })])],
  ["planSync (parse, merge, plan)", () => planSync(a, b, { prefix: "small/" })],
  ["syncPeers with nothing to do", () => syncPeers(a, b, { prefix: "small/", mode: "pull", concurrency: 4 })],
];
for (let round = 1; round <= Number(values.rounds); round++) {
  for (const [label, run] of cases) {
    for (let i = 0; i < 5; i++) await run();
    const n = 50;
    const started = performance.now();
    for (let i = 0; i < n; i++) await run();
    console.log(`round ${round}: ${label} ${((performance.now() - started) / n).toFixed(2)} ms`);
  }
}
