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

/** A `FetchLike` on `node:http(s)`: JSON, bytes, Blobs and ReadableStreams as bodies. */
export const nodeFetch: FetchLike = (url, init) =>
  new Promise<Reply>((resolve, reject) => {
    const method = (init.method ?? "GET").toUpperCase();
    const transport = url.protocol === "https:" ? https : http;
    const agent = url.protocol === "https:" ? agents["https:"] : agents["http:"];
    const headers: Record<string, string> = { ...init.headers };
    const body = init.body;
    if (typeof body === "string") headers["content-length"] ??= String(Buffer.byteLength(body));
    if (body instanceof Uint8Array || body instanceof ArrayBuffer) headers["content-length"] ??= String(body.byteLength);
    if (body instanceof Blob) headers["content-length"] ??= String(body.size);

    const request = transport.request(url, { method, headers, agent, signal: init.signal ?? undefined });
    let settled = false;
    request.once("response", (response) => {
      settled = true;
      resolve(replyOf(response, method));
    });
    request.once("error", (err) => {
      if (!settled) {
        settled = true;
        reject(err);
      }
    });

    if (body === undefined || body === null) request.end();
    else if (typeof body === "string") request.end(body);
    else if (body instanceof Uint8Array) request.end(body);
    else if (body instanceof ArrayBuffer) request.end(new Uint8Array(body));
    else if (body instanceof ReadableStream) void pump(body as ReadableStream<Uint8Array>, request, () => settled);
    else if (body instanceof Blob) void pump(body.stream(), request, () => settled);
    else {
      request.destroy();
      reject(new TypeError("nodeFetch sends strings, bytes, Blobs and ReadableStreams only."));
    }
  });

/** Writes a web stream into a request, waiting for `drain`; a failing source aborts the request. */
async function pump(body: ReadableStream<Uint8Array>, request: http.ClientRequest, answered: () => boolean): Promise<void> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      // The peer answered early (an error before the whole body): stop sending.
      if (answered() || request.destroyed) {
        await reader.cancel();
        return;
      }
      const ready = request.write(value);
      bodyBytesListener?.(value.byteLength);
      if (!ready) await drained(request);
    }
    request.end();
  } catch (err) {
    request.destroy(err instanceof Error ? err : new Error(String(err)));
    await reader.cancel(err).catch(() => undefined);
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
