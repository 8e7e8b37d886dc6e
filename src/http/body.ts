import type { z } from "zod";
import { HttpError, badRequest } from "./errors";

/** Default cap on a JSON request body that is not a memory value or a task batch. */
export const SMALL_JSON_BYTES = 64 * 1024;

/**
 * Reads at most `maxBytes` of the body as text: a declared length above the cap is refused
 * before reading; a body without a length (chunked) is read until the cap and refused past it.
 */
export async function readText(request: Request, maxBytes: number, what = "request body"): Promise<string> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) {
    throw new HttpError("payload_too_large", `The ${what} is ${declared} bytes; the limit is ${maxBytes}.`);
  }
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new HttpError("payload_too_large", `The ${what} is over the limit of ${maxBytes} bytes.`);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

/** Parses the body as JSON (an empty body counts as `{}`) and validates it with `schema`. */
export async function readJson<S extends z.ZodType>(
  request: Request,
  schema: S,
  maxBytes = SMALL_JSON_BYTES,
): Promise<z.output<S>> {
  const text = await readText(request, maxBytes);
  let data: unknown = {};
  if (text.trim() !== "") {
    try {
      data = JSON.parse(text);
    } catch {
      throw badRequest("The request body is not valid JSON.");
    }
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw badRequest(describeIssue(parsed.error.issues[0]));
  return parsed.data;
}

function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return "The request body is malformed.";
  const where = issue.path.length ? `"${issue.path.join(".")}"` : "The body";
  return `${where}: ${issue.message}`.replace(/\.?$/, ".");
}
