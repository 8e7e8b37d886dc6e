import type { IRequest } from "itty-router";
import { z } from "zod";
import type { FileMeta, UploadCreated, UploadPart } from "../api/types";
import type { PeerEnv } from "../env";
import { bodyBrokenOff, contentLength, readJson, watchedBody } from "../http/body";
import { HttpError, badRequest } from "../http/errors";
import { json, noContent } from "../http/json";
import { checkContentType } from "../http/mediaType";
import { decodeParam } from "../http/paths";
import { checkFileName } from "../storage/names";
import { abortedUpload, changeFiles, storePart } from "../storage/quota";
import { fileStore } from "./files";

/** R2 allows parts up to 5 GiB; the platform's request limit is lower anyway. */
const MAX_PART = 5 * 1024 ** 3;

const createBody = z.object({ name: z.string(), contentType: z.string().optional() });
const completeBody = z.object({
  parts: z
    .array(z.object({ part: z.number().int().min(1).max(10000), etag: z.string().min(1) }))
    .min(1)
    .max(10000),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex digits")
    .optional(),
});

const uploadIdOf = (request: IRequest) => {
  const id = decodeParam(request.params.uploadId, "upload id");
  if (id === "" || id.length > 1024) throw badRequest("The upload id is malformed.");
  return id;
};
const nameQuery = (request: IRequest) => {
  const name = new URL(request.url).searchParams.get("name");
  if (name === null) throw badRequest("Pass the file name as ?name=.");
  return checkFileName(name);
};

/** `POST /api/uploads` `{"name", "contentType"?}` → 201 `{"uploadId", "name"}` */
export async function createUpload(request: IRequest, env: PeerEnv): Promise<Response> {
  const body = await readJson(request, createBody);
  const name = checkFileName(body.name);
  const contentType = checkContentType(body.contentType, '"contentType"');
  const uploadId = await fileStore(env).createUpload(name, contentType);
  return json({ uploadId, name } satisfies UploadCreated, 201);
}

/** `PUT /api/uploads/{uploadId}/parts/{n}?name=` — raw part → `{"part", "etag"}` */
export async function uploadPart(request: IRequest, env: PeerEnv): Promise<Response> {
  const uploadId = uploadIdOf(request);
  const name = nameQuery(request);
  const part = Number(request.params.n);
  if (!/^\d+$/.test(request.params.n ?? "") || part < 1 || part > 10000) {
    throw badRequest("The part number must be a whole number from 1 to 10000.");
  }
  const length = contentLength(request);
  if (length > MAX_PART) throw new HttpError("payload_too_large", "A part is at most 5 GiB.");
  const files = fileStore(env);
  const uploaded = await storePart(env, uploadId, part, length, async () => {
    const body = watchedBody(request, length);
    try {
      return await files.uploadPart(name, uploadId, part, body.stream, length);
    } catch (err) {
      if (!(err instanceof HttpError) && (await body.brokenOff())) throw bodyBrokenOff(length);
      throw err;
    }
  });
  return json({ part: uploaded.partNumber, etag: uploaded.etag } satisfies UploadPart);
}

/** `POST /api/uploads/{uploadId}/complete?name=` `{"parts", "sha256"?}` → 201 file meta */
export async function completeUpload(request: IRequest, env: PeerEnv): Promise<Response> {
  const uploadId = uploadIdOf(request);
  const name = nameQuery(request);
  const body = await readJson(request, completeBody, 2 * 1024 * 1024);
  const numbers = body.parts.map((p) => p.part);
  if (new Set(numbers).size !== numbers.length) throw badRequest("Each part may be listed only once.");
  const parts = body.parts.map((p) => ({ partNumber: p.part, etag: p.etag })).sort((a, b) => a.partNumber - b.partNumber);
  const files = fileStore(env);
  let meta: FileMeta;
  try {
    meta = await changeFiles(
      env,
      files,
      { names: [name], bytes: 0, completes: uploadId },
      () => files.completeUpload(name, uploadId, parts, body.sha256?.toLowerCase()),
      (stored) => stored.size,
    );
  } catch (err) {
    // A checksum mismatch ends the upload (aborted, or its object removed): free its parts.
    if (err instanceof HttpError && err.code === "checksum_mismatch") await abortedUpload(env, uploadId);
    throw err;
  }
  return json(meta satisfies FileMeta, 201);
}

/** `DELETE /api/uploads/{uploadId}?name=` — aborts; nothing is left behind. */
export async function abortUpload(request: IRequest, env: PeerEnv): Promise<Response> {
  const uploadId = uploadIdOf(request);
  await fileStore(env).abortUpload(nameQuery(request), uploadId);
  await abortedUpload(env, uploadId);
  return noContent();
}
