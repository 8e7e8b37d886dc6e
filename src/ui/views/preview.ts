import type { FileMeta } from "../../client";
import type { AppContext } from "../context";
import { openDialog } from "../dialog";
import { formatBytes, h } from "../dom";
import { downloadFile } from "./fileActions";

/** A text preview reads at most this many bytes (one Range request), never the whole file. */
export const TEXT_PREVIEW_BYTES = 256 * 1024;
/** Signed links for previews live only as long as a reader looks (media seeks reuse them). */
const PREVIEW_LINK_TTL = 3600;

const TEXT_EXTENSIONS =
  /\.(txt|md|markdown|csv|tsv|json|jsonl|ya?ml|toml|ini|conf|cfg|log|xml|html?|css|s?js|mjs|cjs|ts|tsx|jsx|py|rb|go|rs|java|kt|c|h|cc|cpp|hpp|cs|sh|bash|zsh|sql|php|pl|lua|swift|r|diff|patch|env|gitignore|dockerfile|makefile)$/i;
const EXTENSION_KINDS: [RegExp, PreviewKind][] = [
  [/\.(png|jpe?g|gif|webp|avif|bmp|ico|svg)$/i, "image"],
  [/\.(mp4|webm|ogv|mov|m4v)$/i, "video"],
  [/\.(mp3|ogg|oga|opus|wav|flac|m4a|aac)$/i, "audio"],
  [/\.pdf$/i, "pdf"],
];

export type PreviewKind = "image" | "video" | "audio" | "pdf" | "text" | "none";

/** What a file can be previewed as: by its stored type, else by its name's extension. */
export function previewKind(file: Pick<FileMeta, "name" | "contentType">): PreviewKind {
  const type = file.contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  if (type.startsWith("image/")) return "image";
  if (type.startsWith("video/")) return "video";
  if (type.startsWith("audio/")) return "audio";
  if (type === "application/pdf") return "pdf";
  if (type.startsWith("text/") || /^application\/(json|xml|javascript|x-sh|yaml|toml)/.test(type)) return "text";
  for (const [pattern, kind] of EXTENSION_KINDS) if (pattern.test(file.name)) return kind;
  return TEXT_EXTENSIONS.test(file.name) ? "text" : "none";
}

/**
 * A signed link on this page's origin, so the page's `img-src`/`media-src`/`frame-src 'self'`
 * allow it; the peer serves it with `Content-Security-Policy: default-src 'none'; sandbox`.
 */
async function sameOriginLink(ctx: AppContext, file: FileMeta): Promise<string> {
  const link = new URL((await ctx.client.shareFile(file.name, PREVIEW_LINK_TTL)).url);
  return `${location.origin}${link.pathname}${link.search}`;
}

/**
 * Previews a file in a dialog without downloading it: images, audio and video (the browser
 * seeks with Range requests), PDF in a frame whose document the peer's CSP sandboxes, and
 * text as text (at most `TEXT_PREVIEW_BYTES`, put in with `textContent`, never parsed as HTML).
 */
export async function previewFile(ctx: AppContext, file: FileMeta): Promise<void> {
  const kind = previewKind(file);
  let body: HTMLElement;
  try {
    body = await previewBody(ctx, file, kind);
  } catch (err) {
    return ctx.fail(err, `Could not preview ${file.name}`);
  }
  void openDialog({
    title: file.name,
    body: [
      h("div", { class: "preview", "data-preview": kind }, body),
      h(
        "p",
        { class: "hint" },
        `${formatBytes(file.size)} · ${file.contentType} `,
        h("button", { type: "button", class: "link", onclick: () => void downloadFile(ctx, file) }, "Download"),
      ),
    ],
    wide: true,
  });
}

async function previewBody(ctx: AppContext, file: FileMeta, kind: PreviewKind): Promise<HTMLElement> {
  switch (kind) {
    case "image":
      return h("img", { src: await sameOriginLink(ctx, file), alt: `Preview of ${file.name}`, referrerpolicy: "no-referrer" });
    case "video":
    case "audio":
      return h(kind, {
        src: await sameOriginLink(ctx, file),
        controls: true,
        preload: "metadata",
        "aria-label": `Preview of ${file.name}`,
      });
    case "pdf":
      return h("iframe", { src: await sameOriginLink(ctx, file), title: `Preview of ${file.name}`, referrerpolicy: "no-referrer" });
    case "text":
      return textPreview(ctx, file);
    default:
      return h("p", {}, `No preview for this type of file (${file.contentType}). Download it to open it.`);
  }
}

async function textPreview(ctx: AppContext, file: FileMeta): Promise<HTMLElement> {
  const end = Math.min(file.size, TEXT_PREVIEW_BYTES) - 1;
  let text = "";
  if (end >= 0) {
    const download = await ctx.client.getFile(file.name, { range: { start: 0, end } });
    const bytes = new Uint8Array(await new Response(download.body).arrayBuffer());
    // A cut may split a character: `stream` decoding drops the incomplete tail instead of a U+FFFD.
    text = new TextDecoder("utf-8", { fatal: false }).decode(bytes, { stream: file.size > TEXT_PREVIEW_BYTES });
  }
  const pre = h("pre", { class: "text-preview", tabindex: 0, "aria-label": `Text of ${file.name}` });
  pre.textContent = text;
  return h(
    "div",
    {},
    pre,
    file.size > TEXT_PREVIEW_BYTES
      ? h("p", { class: "hint" }, `The first ${formatBytes(TEXT_PREVIEW_BYTES)} of ${formatBytes(file.size)}.`)
      : null,
  );
}
