import { claimedSha256, serveFile } from "../handlers/files";
import { bodyBrokenOff, watchedBody } from "../http/body";
import { HttpError, badRequest, notFound } from "../http/errors";
import type { DavEntry } from "../storage/davTree";
import { changeFiles } from "../storage/quota";
import { putStreamed } from "../storage/streamedPut";
import { type DavContext, guardWrite } from "./context";
import { hrefOf, nameOfUrl, parentName } from "./paths";
import { escapeXml as escapeHtml } from "./xml";
import { checkContentType } from "../http/mediaType";

/** Every method /dav/ answers. */
export const DAV_METHODS = "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK";

/** A single R2 put takes at most 5 GiB; past that (or of unknown length) a body goes in parts. */
const MAX_SINGLE_PUT = 5 * 1024 ** 3;

/** `OPTIONS`: the classes (1, 2), the methods, and `MS-Author-Via` for Windows' mini-redirector. */
export function options(): Response {
  return new Response(null, {
    status: 200,
    headers: { dav: "1, 2", "ms-author-via": "DAV", allow: DAV_METHODS, "accept-ranges": "bytes", "content-length": "0" },
  });
}

/**
 * `GET`/`HEAD`: a file as /api/files serves it (Range, ETag); a folder as a small HTML index,
 * streamed a listing page at a time (a large folder never sits whole in memory).
 */
export async function get(c: DavContext): Promise<Response> {
  c.access.require("read", c.name);
  const entry = await c.tree.stat(c.name);
  if (!entry) throw notFound(`No file or folder "${c.name}".`);
  c.access.require("read", c.name, entry.kind);
  if (entry.kind === "file") return serveFile(c.request, c.env, c.name);
  const headers = { "content-type": "text/html; charset=utf-8", "content-security-policy": "default-src 'none'; sandbox" };
  if (c.request.method === "HEAD") return new Response(null, { headers });
  const title = escapeHtml(hrefOf(c.name, true));
  const pages = c.tree.children(c.name);
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(`<!doctype html><meta charset="utf-8"><title>${title}</title><h1>${title}</h1><ul>`));
    },
    async pull(controller) {
      const page = await pages.next();
      if (page.done) {
        controller.enqueue(encoder.encode("</ul>"));
        controller.close();
        return;
      }
      const rows = page.value.map((child) => {
        const label = child.name.slice(c.name === "" ? 0 : c.name.length + 1) + (child.kind === "folder" ? "/" : "");
        return `<li><a href="${escapeHtml(hrefOf(child.name, child.kind === "folder"))}">${escapeHtml(label)}</a></li>`;
      });
      controller.enqueue(encoder.encode(rows.join("")));
    },
  });
  return new Response(body, { headers });
}

/** The body's length: `Content-Length`, else Finder's `X-Expected-Entity-Length`, else unknown (null). */
function declaredLength(request: Request): number | null {
  for (const header of ["content-length", "x-expected-entity-length"]) {
    const raw = request.headers.get(header);
    if (raw === null) continue;
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(Number(raw))) throw badRequest(`${header} is not a byte count.`);
    return Number(raw);
  }
  return null;
}

/**
 * `PUT`: streams the body into the file, with or without a declared length (a chunked body is
 * stored in fixed-size parts as it arrives). 201 for a new file, 204 for a replaced one; the
 * folder it goes in must exist (409), and a folder cannot be overwritten by a file (405).
 */
export async function put(c: DavContext): Promise<Response> {
  c.access.require("write", c.name, "file");
  if (c.name === "") throw new HttpError("method_not_allowed", "/dav/ is a folder: PUT a file inside it.", { allow: DAV_METHODS });
  const [entry, parentExists] = await Promise.all([c.tree.stat(c.name), c.tree.folderExists(parentName(c.name))]);
  if (entry?.kind === "folder") throw new HttpError("method_not_allowed", `"${c.name}" is a folder.`, { allow: DAV_METHODS });
  if (!parentExists) throw new HttpError("conflict", `The folder of "${c.name}" does not exist; MKCOL it first.`);
  await guardWrite(c, [{ name: c.name, membership: !entry }]);

  const files = c.tree.files;
  const contentType = checkContentType(c.request.headers.get("content-type"));
  const length = declaredLength(c.request);
  let meta;
  if (length === null || length > MAX_SINGLE_PUT) {
    const body = c.request.body ?? (new Response(new Uint8Array(0)).body as ReadableStream<Uint8Array>);
    meta = await putStreamed(c.env, files, c.name, body, { contentType });
  } else {
    const sha256 = claimedSha256(c.request.headers);
    meta = await changeFiles(
      c.env,
      files,
      { names: [c.name], bytes: length },
      async () => {
        const body = watchedBody(c.request, length);
        try {
          return await files.put(c.name, body.stream, { length, sha256, contentType });
        } catch (err) {
          if (err instanceof HttpError) throw err;
          // The runtime holds a body to its Content-Length, not to X-Expected-Entity-Length: a
          // body of another length fails the FixedLengthStream, the client's doing.
          if ((await body.brokenOff()) || /FixedLengthStream/.test(String(err))) throw bodyBrokenOff(length);
          throw err;
        }
      },
      (stored) => stored.size,
    );
  }
  return new Response(null, { status: entry ? 204 : 201, headers: { etag: `"${meta.etag}"` } });
}

/** Removes a resource and what hangs on it: everything under a folder, its dead properties, its locks. */
async function removeResource(c: DavContext, entry: DavEntry): Promise<void> {
  await c.tree.remove(entry);
  await Promise.all([c.state.deleteProps(entry.name), c.state.dropLocks(entry.name)]);
}

/** `DELETE`: a file, or a folder with everything under it. */
export async function remove(c: DavContext): Promise<Response> {
  c.access.require("delete", c.name);
  if (c.name === "") throw new HttpError("forbidden", "The root of /dav/ cannot be deleted.");
  const entry = await c.tree.stat(c.name);
  if (!entry) throw notFound(`No file or folder "${c.name}".`);
  c.access.require("delete", c.name, entry.kind);
  await guardWrite(c, [{ name: c.name, deep: true, membership: true }]);
  await removeResource(c, entry);
  return new Response(null, { status: 204 });
}

/** `MKCOL`: a folder (its zero-byte `name/` marker). 405 when the name exists, 409 without a parent, 415 with a body. */
export async function mkcol(c: DavContext): Promise<Response> {
  c.access.require("write", c.name, "folder");
  const length = c.request.headers.get("content-length");
  if ((length !== null && length.trim() !== "0") || c.request.headers.has("transfer-encoding")) {
    await c.request.body?.cancel();
    throw new HttpError("unsupported_media_type", "MKCOL takes no body.");
  }
  if (c.name === "") throw new HttpError("method_not_allowed", "/dav/ exists.", { allow: DAV_METHODS });
  const [entry, parentExists] = await Promise.all([c.tree.stat(c.name), c.tree.folderExists(parentName(c.name))]);
  if (entry) throw new HttpError("method_not_allowed", `"${c.name}" exists.`, { allow: DAV_METHODS });
  if (!parentExists) throw new HttpError("conflict", `The folder of "${c.name}" does not exist.`);
  await guardWrite(c, [{ name: c.name, membership: true }]);
  await c.tree.makeFolder(c.name);
  return new Response(null, { status: 201 });
}

/**
 * `COPY` and `MOVE`: `Destination` on this peer's /dav/, `Overwrite` (T by default; F and an
 * existing target is 412), `Depth` (COPY: 0 or infinity; MOVE: infinity). A folder moves as a
 * whole; MOVE removes the source only once the copy is whole, and a file it replaces goes only with it. Dead properties go along;
 * locks stay behind (RFC 4918 §7.5).
 */
export async function copyOrMove(c: DavContext): Promise<Response> {
  const move = c.request.method === "MOVE";
  const rawDestination = c.request.headers.get("destination");
  if (!rawDestination) throw badRequest(`${c.request.method} needs a Destination header.`);
  const to = nameOfUrl(rawDestination, c.request);
  c.access.require("read", c.name);
  c.access.require("write", to);
  if (move) c.access.require("delete", c.name);

  const depth = c.request.headers.get("depth")?.trim().toLowerCase() ?? "infinity";
  if (depth !== "infinity" && (move || depth !== "0"))
    throw badRequest(`${c.request.method} takes Depth ${move ? "infinity" : "0 or infinity"}.`);
  const overwriteHeader = c.request.headers.get("overwrite")?.trim().toUpperCase() ?? "T";
  if (overwriteHeader !== "T" && overwriteHeader !== "F") throw badRequest("Overwrite is T or F.");

  if (c.name === "" || to === "") throw new HttpError("forbidden", "The root of /dav/ cannot be copied, moved or replaced.");
  if (to === c.name) throw new HttpError("forbidden", "The source and the destination are the same.");
  const source = await c.tree.stat(c.name);
  if (!source) throw notFound(`No file or folder "${c.name}".`);
  c.access.require("read", c.name, source.kind);
  c.access.require("write", to, source.kind);
  if (move) c.access.require("delete", c.name, source.kind);
  if (source.kind === "folder" && to.startsWith(`${c.name}/`)) throw new HttpError("forbidden", "A folder cannot be copied into itself.");

  const [target, parentExists] = await Promise.all([c.tree.stat(to), c.tree.folderExists(parentName(to))]);
  if (target && overwriteHeader === "F") throw new HttpError("precondition_failed", `"${to}" exists and Overwrite is F.`);
  if (!parentExists) throw new HttpError("conflict", `The folder of "${to}" does not exist.`);
  await guardWrite(c, [{ name: to, deep: true, membership: true }, ...(move ? [{ name: c.name, deep: true, membership: true }] : [])]);

  // A file onto a file is replaced by the copy itself (whole or not at all): a refused copy keeps it.
  const inPlace = target?.kind === "file" && source.kind === "file";
  if (target && !inPlace) await removeResource(c, target);
  if (move) await c.tree.move(source, to);
  else await c.tree.copy(source, to, depth === "infinity");
  if (inPlace) await c.state.dropLocks(to);
  await c.state.copyProps(c.name, to, move);
  if (move) await c.state.dropLocks(c.name);
  return new Response(null, { status: target ? 204 : 201 });
}
