import type { IRequest } from "itty-router";
import { z } from "zod";
import type { CopyTotals, FileMeta, FolderCreated, FolderDeleted } from "../api/types";
import type { PeerEnv } from "../env";
import { readJson } from "../http/body";
import { json, noContent } from "../http/json";
import { decodeParam } from "../http/paths";
import { copyFile, copyFolder, moveFile } from "../storage/copy";
import { fileStore, folderStore } from "../storage/fileStore";
import { folderPathOf, markerOf } from "../storage/folders";
import { checkFileName } from "../storage/names";
import { fileQuota } from "../storage/quota";
import { fileNameOf } from "./files";

const folderBody = z.object({ path: z.string().min(1) });
const copyBody = z.object({ to: z.string().min(1), overwrite: z.boolean().default(false) });

const folderPathIn = (request: IRequest) => folderPathOf(decodeParam(request.params.path, "folder path"));

/** `POST /api/folders` `{"path"}` — makes an (empty) folder: its zero-byte `path/` marker. */
export async function createFolder(request: IRequest, env: PeerEnv): Promise<Response> {
  const { path: raw } = await readJson(request, folderBody);
  const path = folderPathOf(raw);
  await folderStore(env).create(path);
  return json({ path: markerOf(path) } satisfies FolderCreated, 201);
}

/** `DELETE /api/folders/{path}` — 204 when empty; 409 when not, unless `?recursive=true` (200 `{deleted}`). */
export async function deleteFolder(request: IRequest, env: PeerEnv): Promise<Response> {
  const path = folderPathIn(request);
  const recursive = new URL(request.url).searchParams.get("recursive") === "true";
  const files = fileStore(env);
  const deleted = await folderStore(env, files).remove(path, recursive, fileQuota(env, files));
  return deleted === null ? noContent() : json({ deleted } satisfies FolderDeleted);
}

/** `POST /api/files/{name}/copy` `{"to", "overwrite"?}` — 201 meta of the copy, SHA-256 kept. */
export async function copyFileRoute(request: IRequest, env: PeerEnv): Promise<Response> {
  return json((await copyOrMoveFile(request, env, copyFile)) satisfies FileMeta, 201);
}

/** `POST /api/files/{name}/move` — a verified copy, then the source goes. */
export async function moveFileRoute(request: IRequest, env: PeerEnv): Promise<Response> {
  return json((await copyOrMoveFile(request, env, moveFile)) satisfies FileMeta, 201);
}

async function copyOrMoveFile(request: IRequest, env: PeerEnv, op: typeof copyFile | typeof moveFile): Promise<FileMeta> {
  const name = fileNameOf(request);
  const { to, overwrite } = await readJson(request, copyBody);
  const files = fileStore(env);
  return op(files, name, checkFileName(to), { overwrite, quota: fileQuota(env, files) });
}

/** `POST /api/folders/{path}/copy` `{"to", "overwrite"?}` — 200 `{files, bytes}`. */
export async function copyFolderRoute(request: IRequest, env: PeerEnv): Promise<Response> {
  return json((await copyOrMoveFolder(request, env, false)) satisfies CopyTotals);
}

/** `POST /api/folders/{path}/move` — every file copied whole first, then the sources go. */
export async function moveFolderRoute(request: IRequest, env: PeerEnv): Promise<Response> {
  return json((await copyOrMoveFolder(request, env, true)) satisfies CopyTotals);
}

async function copyOrMoveFolder(request: IRequest, env: PeerEnv, move: boolean): Promise<CopyTotals> {
  const from = folderPathIn(request);
  const { to, overwrite } = await readJson(request, copyBody);
  const files = fileStore(env);
  return copyFolder(files, folderStore(env, files), from, folderPathOf(to), { overwrite, move, quota: fileQuota(env, files) });
}
