/**
 * Where a small file's sync goes, step by step: files copied one at a time peer1 → peer2 by
 * the floor (bare GET piped into a bare PUT between two bare workers), by the sync's pull (a
 * registered share link from peer1, then peer2's pull), by the same pull with an unregistered,
 * ETag-bound link signed by the caller (as replication signs its own, no registry, no
 * round trip), and by the relay. Prints the median milliseconds of each step.
 *
 *   npx tsx bench/sync-ab.ts [--files N] [--size BYTES]
 */
import { parseArgs } from "node:util";
import { transferFile } from "../src/client/index";
import { floorCopy, startAbPair } from "./lib/ab";
import { median, timed } from "./lib/stats";

// The worker's own signer; imported by path so the Node typecheck does not pull in workerd-only APIs it never calls.
const signerPath = "../src/http/shareLinks";
const { signShareLink } = (await import(signerPath)) as {
  signShareLink(token: string, peer: string, base: string, name: string, expires: number, binding: { etag: string }): Promise<string>;
};
const { values } = parseArgs({ options: { files: { type: "string" }, size: { type: "string" } } });
const files = Number(values.files ?? 100);
const size = Number(values.size ?? 4096);
const { a, b, p1, source, dest, stop } = await startAbPair("sync-ab");
try {
  const bytes = new Uint8Array(size).fill(7);
  for (let i = 0; i < files; i++) {
    const name = `s/${String(i).padStart(5, "0")}.bin`;
    await (await a.send("PUT", `/${name}`, { body: bytes, headers: { "content-length": String(size) } })).arrayBuffer();
    await source.putFile(name, bytes);
  }
  const steps: Record<string, number[]> = {};
  const note = (step: string, ms: number) => {
    steps[step] = [...(steps[step] ?? []), ms];
  };
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < files; i++) {
      const name = `s/${String(i).padStart(5, "0")}.bin`;
      const tag = `r${round}/${name}`;
      // Floor: GET piped into PUT.
      note("floor GET→PUT", (await timed(() => floorCopy(a, b, name, tag))).ms);
      // The sync's pull, split: registered share link, then the destination's pull.
      const share = await timed(() => source.shareFile(name, 3600));
      note("pull: POST share (link registered)", share.ms);
      note("pull: POST pull", (await timed(() => dest.pullFile(`reg-${tag}`, share.value.url))).ms);
      // The same pull with a link the caller signs, bound to the ETag (no registry, no round trip).
      const signed = await timed(async () => {
        const head = await source.headFile(name);
        return signShareLink(p1.token!, p1.name, p1.url, name, Math.floor(Date.now() / 1000) + 600, { etag: head!.etag });
      });
      note("unregistered: HEAD + local sign", signed.ms);
      note("unregistered: POST pull", (await timed(() => dest.pullFile(`sig-${tag}`, signed.value))).ms);
      note("relay (transferFile)", (await timed(() => transferFile(source, dest, name, { mode: "relay", as: `rel-${tag}` }))).ms);
      note("pull (transferFile, as sync)", (await timed(() => transferFile(source, dest, name, { mode: "pull", as: `pul-${tag}` }))).ms);
    }
  }
  for (const [step, ms] of Object.entries(steps)) console.log(`${step.padEnd(36)} median ${median(ms).toFixed(2)} ms (${ms.length})`);
} finally {
  await stop();
}
process.exit();
