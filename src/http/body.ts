import type { z } from "zod";
import { HttpError, badRequest } from "./errors";

/** Default cap on a JSON request body that is not a memory value or a task batch. */
export const SMALL_JSON_BYTES = 64 * 1024;

/**
 * Reads at most `maxBytes` of the body as text: a declared length above the cap is refused
 * before reading; a body without a length (chunked) is read until the cap and refused past it.
 */
export async function readText(request: Request, maxBytes: number, what = "request body"): Promise<string> {
  return new TextDecoder().decode(await readBytes(request, maxBytes, what));
}

/** The body's bytes, at most `maxBytes`, refused as `readText` refuses them. */
async function readBytes(request: Request, maxBytes: number, what: string): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) {
    throw new HttpError("payload_too_large", `The ${what} is ${declared} bytes; the limit is ${maxBytes}.`);
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const value = await nextChunk(reader, what);
    if (!value) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new HttpError("payload_too_large", `The ${what} is over the limit of ${maxBytes} bytes.`);
    }
    chunks.push(value);
  }
  return joined(chunks, total);
}

/** The next chunk of a request body, or null at its end. */
async function nextChunk(reader: ReadableStreamDefaultReader<Uint8Array>, what: string): Promise<Uint8Array | null> {
  try {
    const { done, value } = await reader.read();
    return done ? null : value;
  } catch {
    // The client went away or sent less than it declared: its doing, not a 500.
    throw badRequest(`The ${what} broke off before its end.`);
  }
}

/** `chunks` (`total` bytes in all) as one array. */
function joined(chunks: Uint8Array[], total: number): Uint8Array {
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return all;
}

const PARSED = Symbol("edgepeer.parsedBody");

function parseJson(text: string): unknown {
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest("The request body is not valid JSON.");
  }
}

/**
 * The JSON body, read once and at most `maxBytes` of it (the route's own limit, else 413 as
 * `readJson` refuses it): the guard (src/http/auth.ts) reads it to find the names a route
 * touches, and the handler's `readJson` gets the same parse, never a second read.
 */
export async function jsonBodyOnce(request: Request, maxBytes: number): Promise<unknown> {
  const holder = request as Request & { [PARSED]?: { bytes: number; data: unknown } };
  if (!holder[PARSED]) {
    // The size is the bytes read, not the text encoded again (up to the limit twice over).
    const bytes = await readBytes(request, maxBytes, "request body");
    holder[PARSED] = { bytes: bytes.byteLength, data: parseJson(new TextDecoder().decode(bytes)) };
  }
  return holder[PARSED].data;
}

/** Parses the body as JSON (an empty body counts as `{}`) and validates it with `schema`. */
export async function readJson<S extends z.ZodType>(request: Request, schema: S, maxBytes = SMALL_JSON_BYTES): Promise<z.output<S>> {
  const cached = (request as Request & { [PARSED]?: { bytes: number; data: unknown } })[PARSED];
  // A body the guard parsed is still held to this route's own limit.
  if (cached && cached.bytes > maxBytes)
    throw new HttpError("payload_too_large", `The request body is over the limit of ${maxBytes} bytes.`);
  return validate(schema, cached ? cached.data : parseJson(await readText(request, maxBytes)));
}

/** `data` (a parsed body, or a line of it) as `schema` has it, or 400 naming the first thing wrong. */
export function validate<S extends z.ZodType>(schema: S, data: unknown): z.output<S> {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw badRequest(describeIssue(parsed.error.issues[0]));
  return parsed.data;
}

function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return "The request body is malformed.";
  const where = issue.path.length ? `"${issue.path.join(".")}"` : "The body";
  return `${where}: ${issue.message}`.replace(/\.?$/, ".");
}

/** The request's declared body length; 411 without one, 400 when malformed. */
export function contentLength(request: Request): number {
  const raw = request.headers.get("content-length");
  if (raw === null) {
    // Cancel the unread body so the client sees the 411 rather than a broken connection.
    if (!request.body?.locked) request.body?.cancel().catch(() => {});
    throw new HttpError("length_required", "Send Content-Length: a body of unknown length cannot be streamed into R2.");
  }
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n)) throw badRequest("Content-Length is not a byte count.");
  return n;
}

/** A request body the client broke off: it went away, or sent less than it declared. */
export const bodyBrokenOff = (length: number) =>
  badRequest(`The request body ended before its Content-Length of ${length} bytes; nothing was stored.`);

/**
 * The request body as a stream of exactly `length` bytes (R2 needs a known length), and a way
 * to tell, once storing it failed, whether the *client* broke it off — a dropped connection,
 * or a body that ends before its Content-Length — rather than storage. A handler answers the
 * first with `bodyBrokenOff` (400), not a 500: it is the client's doing and nothing was stored.
 *
 * The pipe is native (no JavaScript per chunk). `preventCancel` leaves the client's body as
 * it was when storage gives up, so afterwards it can be asked: errored or ended early means
 * the client; still readable means storage. Ask only after a storage error that is not an
 * `HttpError` — a refusal before storage read the body (412) would leave the pipe waiting.
 */
export function watchedBody(request: Request, length: number): { stream: ReadableStream<Uint8Array>; brokenOff: () => Promise<boolean> } {
  const source = request.body ?? new Response(new Uint8Array(0)).body!;
  const fixed = new FixedLengthStream(length);
  const outcome = source.pipeTo(fixed.writable, { preventCancel: true }).then(
    () => false,
    async () => {
      try {
        const reader = source.getReader();
        const next = await reader.read();
        await reader.cancel().catch(() => {});
        return next.done; // ended before Content-Length
      } catch {
        return true; // the connection broke
      }
    },
  );
  return { stream: fixed.readable, brokenOff: () => outcome };
}

/**
 * The bytes of a body after its first line, taken in exact counts (a batch's files, one after
 * another). Each `take` buffers its count: a batch holds only small files.
 */
export class BodyBytes {
  private rest: Uint8Array | null;
  /** Whether anything was taken, or the rest dropped: a refusal then has nothing of its own to drain. */
  private taken = false;
  private done = false;
  constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    rest: Uint8Array,
  ) {
    this.rest = rest.byteLength > 0 ? rest : null;
  }

  /** The next `n` bytes, or null when the body ended or broke off before them. */
  async take(n: number): Promise<Uint8Array | null> {
    this.taken = true;
    const out = new Uint8Array(n);
    for (let at = 0; at < n; ) {
      let chunk = this.rest ?? (await nextChunk(this.reader, "request body").catch(() => null));
      this.rest = null;
      if (!chunk) return null;
      const need = n - at;
      if (chunk.byteLength > need) {
        this.rest = chunk.subarray(need);
        chunk = chunk.subarray(0, need);
      }
      out.set(chunk, at);
      at += chunk.byteLength;
    }
    return out;
  }

  /** Drops what is left unread. */
  async cancel(): Promise<void> {
    this.rest = null;
    this.done = true;
    await this.reader.cancel().catch(() => {});
  }

  /** The reader of the body's rest when nothing has taken from it: what a refusal may drain (src/http/unreadBody.ts). */
  untouched(): ReadableStreamDefaultReader<Uint8Array> | null {
    return this.done || this.taken ? null : this.reader;
  }
}

const HEAD_LINE = Symbol("edgepeer.headLine");

/** A headed body's read, once: its outcome, and its reader from the moment it was taken. */
interface HeadLineRead {
  outcome: Promise<HeadedBody>;
  reader: ReadableStreamDefaultReader<Uint8Array> | null;
}

/** A body whose first line is JSON: the parse, and the bytes after the line. */
export interface HeadedBody {
  head: unknown;
  /** Bytes of the line, its `\n` included. */
  headBytes: number;
  /** The body's declared length (Content-Length). */
  length: number;
  rest: BodyBytes;
}

/**
 * A body that opens with one line of JSON (`POST /api/puts`' manifest) and goes on with raw
 * bytes, read once. Its Content-Length comes first (411 without one, 413 over `maxBytes`: refused
 * unread); then the line is read — at most `lineBytes` of it, else 413 — and parsed, and the
 * rest is left in the stream for whoever takes it. The guard reads the line to find the names a
 * route touches, and the handler gets the same parse and the stream where it stopped.
 */
export function headLineOnce(request: Request, lineBytes: number, maxBytes: number): Promise<HeadedBody> {
  const holder = request as Request & { [HEAD_LINE]?: HeadLineRead };
  if (!holder[HEAD_LINE]) {
    const taken: Pick<HeadLineRead, "reader"> = { reader: null };
    const outcome = readHeadLine(request, lineBytes, maxBytes, taken);
    outcome.catch(() => {}); // each caller hears it; never unhandled
    holder[HEAD_LINE] = Object.assign(taken, { outcome });
  }
  return holder[HEAD_LINE].outcome;
}

/**
 * The reader of a headed body's rest that nothing has taken from yet — the request was refused
 * after its first line, or while reading it — else null; null itself when the body was not read
 * as a headed one (no promise step for every other request).
 */
export function unreadRest(request: Request): Promise<ReadableStreamDefaultReader<Uint8Array> | null> | null {
  const read = (request as Request & { [HEAD_LINE]?: HeadLineRead })[HEAD_LINE];
  if (!read) return null;
  return read.outcome.then(
    (body) => body.rest.untouched(),
    // Refused while reading the line: the rest is where the read stopped (a drain of a reader
    // that ended or broke off ends at once).
    () => read.reader,
  );
}

async function readHeadLine(
  request: Request,
  lineBytes: number,
  maxBytes: number,
  taken: Pick<HeadLineRead, "reader">,
): Promise<HeadedBody> {
  const length = contentLength(request);
  if (length > maxBytes) throw new HttpError("payload_too_large", `The request body is ${length} bytes; the limit is ${maxBytes}.`);
  if (!request.body) throw badRequest("The request body is empty; it must open with a line of JSON.");
  const reader = request.body.getReader();
  taken.reader = reader;
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const chunk = await nextChunk(reader, "request body");
    if (!chunk) throw badRequest("The request body ended before the end of its first line (a line of JSON, then '\\n').");
    const newline = chunk.indexOf(0x0a);
    const bytes = total + (newline < 0 ? chunk.byteLength : newline);
    // Left unread past here: the refusal drains the rest as it drains any refused body.
    if (bytes > lineBytes) throw new HttpError("payload_too_large", `The body's first line is over the limit of ${lineBytes} bytes.`);
    if (newline < 0) {
      chunks.push(chunk);
      total += chunk.byteLength;
      continue;
    }
    chunks.push(chunk.subarray(0, newline));
    const text = new TextDecoder().decode(joined(chunks, bytes));
    if (text.trim() === "") throw badRequest("The request body's first line is empty; it must be a line of JSON.");
    return { head: parseJson(text), headBytes: bytes + 1, length, rest: new BodyBytes(reader, chunk.subarray(newline + 1)) };
  }
}
