/**
 * Browser only. `fetch` cannot report how much of a request body has been sent, and a
 * browser cannot stream a request body over HTTP/1.1, so the web UI gives `PeerClient` this
 * XMLHttpRequest-backed fetch for uploads: the same requests, plus upload progress.
 *
 *   let sent = 0;
 *   const client = new PeerClient({ url, token, fetch: progressFetch((n) => show((sent += n))) });
 *   await client.upload(name, file);   // one PUT, or multipart parts in parallel
 */

/** XHR refuses these request headers; the browser sets them itself. */
const FORBIDDEN_HEADERS = new Set(["content-length", "host", "connection", "accept-encoding"]);
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

/**
 * A `fetch` that reports, through `onSent`, each increment of file bytes sent — of every
 * request whose body is a `Blob` (a whole file or a part of one), so the parallel parts of a
 * multipart upload add up to the file and the small JSON requests around them do not count.
 */
export function progressFetch(onSent: (bytes: number) => void): typeof fetch {
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = input instanceof Request ? input.url : String(input);
      const xhr = new XMLHttpRequest();
      xhr.open(init.method ?? "GET", url);
      xhr.responseType = "blob";
      new Headers(init.headers).forEach((value, key) => {
        if (!FORBIDDEN_HEADERS.has(key)) xhr.setRequestHeader(key, value);
      });

      let reported = 0;
      if (init.body instanceof Blob) {
        xhr.upload.addEventListener("progress", (event) => {
          if (event.loaded > reported) onSent(event.loaded - reported);
          reported = Math.max(reported, event.loaded);
        });
      }
      xhr.addEventListener("load", () => {
        const headers = parseHeaders(xhr.getAllResponseHeaders());
        const body = NULL_BODY_STATUSES.has(xhr.status) ? null : (xhr.response as Blob);
        resolve(new Response(body, { status: xhr.status, statusText: xhr.statusText, headers }));
      });
      xhr.addEventListener("error", () => reject(new TypeError(`Network error on ${init.method ?? "GET"} ${url}`)));
      xhr.addEventListener("timeout", () => reject(new DOMException("The request timed out.", "TimeoutError")));
      xhr.addEventListener("abort", () => reject(new DOMException("The request was aborted.", "AbortError")));

      const signal = init.signal;
      if (signal?.aborted) return reject(new DOMException("The request was aborted.", "AbortError"));
      signal?.addEventListener("abort", () => xhr.abort(), { once: true });

      const body = init.body;
      if (body instanceof ReadableStream) {
        return reject(new TypeError("progressFetch cannot send a stream; pass a Blob or bytes."));
      }
      xhr.send((body ?? null) as XMLHttpRequestBodyInit | null);
    });
}

function parseHeaders(raw: string): Headers {
  const headers = new Headers();
  for (const line of raw.trim().split(/[\r\n]+/)) {
    const at = line.indexOf(":");
    if (at > 0) headers.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  return headers;
}
