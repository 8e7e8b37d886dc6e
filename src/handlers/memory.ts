import type { IRequest } from "itty-router";
import { z } from "zod";
import type { MemoryPage } from "../api/types";
import type { PeerEnv } from "../env";
import { readText } from "../http/body";
import { HttpError, badRequest, notFound } from "../http/errors";
import { json, noContent } from "../http/json";
import { decodeParam } from "../http/paths";
import { MemoryStore } from "../storage/memory";
import { checkMemoryKey, checkMemoryPrefix, utf8Length } from "../storage/names";
import { releaseMemoryKey, reserveMemoryKey } from "../storage/quota";

/** KV's limit on one value. */
export const MEMORY_VALUE_LIMIT = 25 * 1024 * 1024;

const JSON_TYPE = { "content-type": "application/json; charset=utf-8" };

/** Longest memory TTL: ten years (KV takes at most 2^31 - 1 seconds; beyond that it throws). */
export const MEMORY_TTL_MAX = 315_360_000;

const putBody = z.object({ value: z.unknown(), ttl: z.number().int().min(60).max(MEMORY_TTL_MAX).optional() });

const store = (env: PeerEnv) => new MemoryStore(env.KV);
const keyOf = (request: IRequest) => checkMemoryKey(decodeParam(request.params.key, "memory key"));

/** `GET /api/memory?prefix=&cursor=` */
export async function listMemory(request: IRequest, env: PeerEnv): Promise<Response> {
  const url = new URL(request.url);
  const prefix = checkMemoryPrefix(url.searchParams.get("prefix") ?? "");
  const cursor = url.searchParams.get("cursor") || undefined;
  return json((await store(env).list(prefix, cursor)) satisfies MemoryPage);
}

/** `GET /api/memory/{key}` */
export async function getMemory(request: IRequest, env: PeerEnv): Promise<Response> {
  const key = keyOf(request);
  const text = await store(env).get(key);
  if (text === null) throw notFound(`No memory key "${key}".`);
  // The value is stored as JSON text: splice it in rather than parse and re-serialise it.
  return new Response(`{"key":${JSON.stringify(key)},"value":${text}}`, { headers: JSON_TYPE });
}

/** `{"value":` at the start of a body, with any JSON whitespace. */
const BARE_ENVELOPE_START = /^[ \t\n\r]*\{[ \t\n\r]*"value"[ \t\n\r]*:/;
const JSON_SPACE = /^[ \t\n\r]*$/;

/**
 * The JSON text of `value` in a PUT body, and its TTL. The common body is `{"value": V}`
 * alone: when the text between `"value":` and the last `}` parses on its own, it is exactly
 * one JSON value and nothing else is in the envelope, so that text is stored as it came —
 * no parse of the envelope, no validation of it, no re-serialisation. Any other body (a TTL,
 * other keys, whitespace after the braces…) is parsed and validated whole.
 */
function parsePutBody(text: string): { valueText: string; ttl?: number } {
  const start = BARE_ENVELOPE_START.exec(text);
  const end = text.lastIndexOf("}");
  if (start && end > start[0].length && JSON_SPACE.test(text.slice(end + 1))) {
    const raw = text.slice(start[0].length, end);
    try {
      JSON.parse(raw);
      return { valueText: raw.trim() };
    } catch {
      // Not a lone value (e.g. `1, "ttl": 60`): the whole body decides below.
    }
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badRequest("The request body is not valid JSON.");
  }
  const parsed = putBody.safeParse(body);
  if (!parsed.success || !body || typeof body !== "object" || !("value" in body)) {
    throw badRequest(`The body must be {"value": any JSON, "ttl"?: whole seconds from 60 to ${MEMORY_TTL_MAX}}.`);
  }
  return { valueText: JSON.stringify(parsed.data.value), ttl: parsed.data.ttl };
}

/** `PUT /api/memory/{key}` with `{"value": any JSON, "ttl"?: seconds from 60 to `MEMORY_TTL_MAX`}` */
export async function putMemory(request: IRequest, env: PeerEnv): Promise<Response> {
  const key = keyOf(request);
  // The envelope around the value may add a little; the value itself is checked below.
  const text = await readText(request, MEMORY_VALUE_LIMIT + 1024, "memory value");
  let { valueText, ttl } = parsePutBody(text);
  // A UTF-16 code unit is at most 3 bytes of UTF-8: only a long text needs measuring. A value
  // sent with spaces is measured as JSON.stringify would write it before being refused.
  if (valueText.length * 3 > MEMORY_VALUE_LIMIT && utf8Length(valueText) > MEMORY_VALUE_LIMIT) {
    valueText = JSON.stringify(JSON.parse(valueText));
    if (utf8Length(valueText) > MEMORY_VALUE_LIMIT) {
      throw new HttpError("payload_too_large", `The value is over KV's limit of ${MEMORY_VALUE_LIMIT} bytes.`);
    }
  }
  const memory = store(env);
  const written = await reserveMemoryKey(env, memory, key);
  await memory.put(key, valueText, ttl);
  written();
  return new Response(`{"key":${JSON.stringify(key)}}`, { headers: JSON_TYPE });
}

/** `DELETE /api/memory/{key}` */
export async function deleteMemory(request: IRequest, env: PeerEnv): Promise<Response> {
  const key = keyOf(request);
  if (!(await store(env).delete(key))) throw notFound(`No memory key "${key}".`);
  releaseMemoryKey(env);
  return noContent();
}
