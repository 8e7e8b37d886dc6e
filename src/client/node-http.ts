/**
 * Node only: the client's requests over `node:http`, with bodies streamed both ways under
 * backpressure. Node's own fetch (undici) costs about 40 MB of memory just to load and
 * compile its HTTP parser; this keeps a CLI process that moves a GiB file near 50 MB.
 */
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import type { FetchLike, Reply } from "./client";

const agents = {
  "http:": new http.Agent({ keepAlive: true }),
  "https:": new https.Agent({ keepAlive: true }),
};

let bodyBytesListener: ((bytes: number) => void) | undefined;

/**
 * Calls `listener` with the size of every body chunk sent or received by `nodeFetch`; the CLI
 * paces its garbage collection by it (scripts/cli/gc.ts). One listener; `undefined` removes it.
 */
export function onBodyBytes(listener: ((bytes: number) => void) | undefined): void {
  bodyBytesListener = listener;
}

/**
 * A `FetchLike` on `node:http(s)`: JSON, bytes, Blobs and ReadableStreams as bodies.
 *
 * A kept-alive connection can be closed by the server just as a request is sent on it (workerd
 * does so after answering a large upload): the request fails with ECONNRESET before any answer.
 * Such a request is sent once more, on a fresh connection, when its body can be sent again:
 * none, bytes, a Blob, a stream with `init.reopen`, or a stream of which this process still
 * holds every byte it read (at most `HELD_BYTES`). A stream read further than that is never
 * re-sent: the error is the caller's.
 */
export const nodeFetch: FetchLike = async (url, init) => {
  const feed = feedOf(init.body, init.reopen);
  try {
    return await attempt(url, init, feed, false);
  } catch (err) {
    if (!(err instanceof ResetBeforeAnswer)) throw err;
    if (!(await feed.rewind())) throw err.cause;
    return await attempt(url, init, feed, true);
  }
};

/** Bytes of a one-shot stream body kept so that a request refused at once can be sent again. */
const HELD_BYTES = 1024 * 1024;

/** Errors of a connection the server closed under a request, not of the request itself. */
const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);
/** Methods whose second identical request changes nothing more than the first (PUT of a file or part). */
const SAFE_TO_REPEAT = new Set(["GET", "HEAD", "PUT"]);

/** The request failed on a reused connection before any byte of an answer: `cause` says how. */
class ResetBeforeAnswer extends Error {
  constructor(readonly cause: Error) {
    super(cause.message);
  }
}

function attempt(url: URL, init: Parameters<FetchLike>[1], feed: Feed, fresh: boolean): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    const method = (init.method ?? "GET").toUpperCase();
    const transport = url.protocol === "https:" ? https : http;
    // A retry gets a connection of its own (closed after the answer), never a pooled one.
    const agent = fresh ? false : url.protocol === "https:" ? agents["https:"] : agents["http:"];
    const headers: Record<string, string> = { ...init.headers };
    if (feed.size !== undefined) headers["content-length"] ??= String(feed.size);
    const hasIfNoneMatch = Object.keys(headers).some((name) => name.toLowerCase() === "if-none-match");

    const request = transport.request(url, { method, headers, agent, signal: init.signal ?? undefined });
    let settled = false;
    let bytesReadBefore = 0;
    request.once("socket", (socket) => {
      bytesReadBefore = socket.bytesRead;
    });
    let responded = false;
    request.once("response", (response) => {
      settled = true;
      responded = true;
      resolve(replyOf(response, method));
    });
    let pumped: Promise<void> = Promise.resolve();
    const source = { failed: false };
    request.once("error", (err: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      const unanswered = !request.socket || request.socket.bytesRead === bytesReadBefore;
      // A reset with no answer does not prove the server did nothing: only a request that is
      // safe to repeat goes again, or one the server cannot have read whole yet.
      const repeatable = (SAFE_TO_REPEAT.has(method) && !hasIfNoneMatch) || !request.writableFinished;
      if (!fresh && !source.failed && request.reusedSocket && unanswered && repeatable && RESET_CODES.has(err.code ?? "")) {
        // Retry only once this attempt has stopped reading the body.
        void pumped.then(() => reject(new ResetBeforeAnswer(err)));
      } else {
        reject(err);
        void pumped.then(() => feed.cancel(err));
      }
    });
    if (feed.bytes !== undefined) request.end(feed.bytes);
    else if (!feed.next) {
      request.destroy();
      settled = true;
      reject(new TypeError("nodeFetch sends strings, bytes, Blobs and ReadableStreams only."));
    } else pumped = pump(feed, request, () => responded, source);
  });
}

/** A request body as `attempt` sends it, and whether it can be sent again from its start. */
interface Feed {
  size?: number;
  /** A body held whole (none: `undefined` with no `next`). */
  bytes?: string | Uint8Array;
  /** The next chunk of a streamed body; null at its end. */
  next?: () => Promise<Uint8Array | null>;
  /** Starts the body over; false when it cannot be (a one-shot stream read past what is held). */
  rewind(): Promise<boolean>;
  cancel(reason?: unknown): Promise<void>;
}

function feedOf(body: unknown, reopen: (() => ReadableStream<Uint8Array>) | undefined): Feed {
  const whole = (bytes: string | Uint8Array | undefined): Feed => ({
    bytes,
    size: bytes === undefined ? undefined : typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.byteLength,
    rewind: async () => true,
    cancel: async () => undefined,
  });
  if (body === undefined || body === null) return { ...whole(undefined), bytes: "" };
  if (typeof body === "string" || body instanceof Uint8Array) return whole(body);
  if (body instanceof ArrayBuffer) return whole(new Uint8Array(body));
  if (body instanceof Blob) return { ...streamFeed(body.stream(), () => body.stream()), size: body.size };
  if (body instanceof ReadableStream) return streamFeed(body as ReadableStream<Uint8Array>, reopen);
  return { rewind: async () => false, cancel: async () => undefined };
}

/**
 * A streamed body. With `reopen`, a rewind opens it again. Without, the chunks read are kept
 * until they pass `HELD_BYTES`, and a rewind replays them before reading on.
 */
function streamFeed(stream: ReadableStream<Uint8Array>, reopen: (() => ReadableStream<Uint8Array>) | undefined): Feed {
  let reader = stream.getReader();
  let held: Uint8Array[] | null = reopen ? null : [];
  let heldBytes = 0;
  let replay = 0;
  return {
    async next() {
      if (held && replay < held.length) return held[replay++] ?? null;
      const { done, value } = await reader.read();
      if (done) return null;
      if (held) {
        heldBytes += value.byteLength;
        if (heldBytes > HELD_BYTES) held = null;
        else {
          held.push(value);
          replay = held.length;
        }
      }
      return value;
    },
    async rewind() {
      if (reopen) {
        await reader.cancel().catch(() => undefined);
        reader = reopen().getReader();
        return true;
      }
      if (!held) return false;
      replay = 0;
      return true;
    },
    async cancel(reason) {
      held = null;
      await reader.cancel(reason).catch(() => undefined);
    },
  };
}

/**
 * Writes a streamed body into a request, waiting for `drain`. A failing source aborts the
 * request (and marks `source.failed`, so that failure is never taken for a closed connection).
 */
async function pump(feed: Feed, request: http.ClientRequest, responded: () => boolean, source: { failed: boolean }): Promise<void> {
  const next = feed.next as NonNullable<Feed["next"]>;
  try {
    for (;;) {
      const value = await next();
      // The peer answered early (an error before the whole body): stop sending.
      if (responded()) {
        await feed.cancel();
        return;
      }
      // The connection failed: its error handler decides what becomes of the body.
      if (request.destroyed) return;
      if (value === null) break;
      const ready = request.write(value);
      bodyBytesListener?.(value.byteLength);
      if (!ready) await drained(request);
    }
    request.end();
  } catch (err) {
    if (request.destroyed) return;
    source.failed = true;
    request.destroy(err instanceof Error ? err : new Error(String(err)));
    await feed.cancel(err);
  }
}

function drained(request: http.ClientRequest): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      request.off("drain", done);
      request.off("close", closed);
      resolve();
    };
    const closed = () => {
      request.off("drain", done);
      reject(new Error("the connection closed while sending"));
    };
    request.once("drain", done);
    request.once("close", closed);
  });
}

function replyOf(response: IncomingMessage, method: string): Reply {
  const status = response.statusCode ?? 0;
  const empty = method === "HEAD" || status === 204 || status === 304;
  if (empty) response.resume();
  let stream: ReadableStream<Uint8Array> | null = null;
  return {
    status,
    statusText: response.statusMessage ?? "",
    ok: status >= 200 && status < 300,
    headers: {
      get(name) {
        const value = response.headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
      },
    },
    get body() {
      if (empty) return null;
      stream ??= webStreamOf(response);
      return stream;
    },
    async json() {
      return JSON.parse((await readAll(response)).toString("utf8")) as unknown;
    },
    async arrayBuffer() {
      const all = await readAll(response);
      return all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
    },
  };
}

async function readAll(response: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A pull-based web stream over a response: reads a chunk only when one is asked for. */
function webStreamOf(response: IncomingMessage): ReadableStream<Uint8Array> {
  const chunks = response[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await chunks.next();
        if (next.done) {
          // A body cut short by a dying peer ends without error in some cases: check the length.
          if (!response.complete) controller.error(new Error("the connection closed before the whole body arrived"));
          else controller.close();
        } else {
          controller.enqueue(new Uint8Array(next.value.buffer, next.value.byteOffset, next.value.byteLength));
          bodyBytesListener?.(next.value.byteLength);
        }
      },
      async cancel() {
        response.destroy();
      },
    },
    { highWaterMark: 0 },
  );
}
