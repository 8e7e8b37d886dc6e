import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { onBodyBytes } from "../../src/client/node-http";

/** A full GC after this many body bytes have gone through `nodeFetch`. */
const GC_EVERY_BYTES = 4 * 1024 * 1024;

/**
 * Keeps a process that streams GiBs near its resting memory (measured on a 1 GiB upload and
 * a 1 GiB relay, peak RSS ~75 → ~54 MiB with a bare `node -e 0` at 39). Three causes, three
 * settings, all made before the first byte moves:
 *
 * - Every chunk read from a socket or a file is a fresh buffer whose memory lives outside
 *   the JS heap (malloc); V8 frees such buffers only after external memory has grown by tens
 *   of MB, and by then malloc's heap is fragmented. A full GC (a few ms on this small heap)
 *   after every 4 MiB of body bytes frees them as they die; paced by bytes, not by a timer,
 *   it costs nothing while the peer is busy with a multipart `complete`.
 * - TurboFan (`--no-opt`): optimizing the streaming loop touched ~4 MB more of the node
 *   binary's code and ~8 MB of compiler memory, for no measurable gain: the work per chunk
 *   is native (hashing, syscalls), and the process used the same CPU time without it.
 * - The young generation (`--semi-space-growth-factor=1`): V8 grows it from 1 to 16 MB per
 *   semi-space under this allocation rate, ~6 MB of RSS for garbage that dies young anyway.
 *
 * These V8 flags take effect when set at run time (measured); the ones that size the heap at
 * start (`--max-semi-space-size`) would not, and a re-exec would cost a second process.
 */
export function collectGarbageWhileStreaming(): void {
  v8.setFlagsFromString("--no-opt");
  v8.setFlagsFromString("--semi-space-growth-factor=1");
  v8.setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as (() => void) | undefined;
  if (typeof gc !== "function") return;
  let since = 0;
  onBodyBytes((n) => {
    since += n;
    if (since >= GC_EVERY_BYTES) {
      since = 0;
      gc();
    }
  });
}
