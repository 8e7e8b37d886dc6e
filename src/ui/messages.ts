import { PeerError } from "../client";
import { h } from "./dom";

/**
 * The one place the UI tells the reader what happened: API errors are shown with their
 * code and message (never swallowed), successes briefly. Errors stay until dismissed.
 */
let region: HTMLElement | null = null;

/** The live region messages go to; mounted once by the app. */
export function messageRegion(): HTMLElement {
  region ??= h("div", { class: "messages", "aria-live": "polite", "data-testid": "messages" });
  return region;
}

/** A failure as one sentence, with the contract's error code when the peer gave one. */
export function describeError(err: unknown): { code: string; text: string } {
  if (err instanceof PeerError) return { code: err.code, text: err.message };
  if (err instanceof Error) return { code: err.name, text: err.message };
  return { code: "error", text: String(err) };
}

export function showError(err: unknown, context?: string): void {
  const { code, text } = describeError(err);
  push("error", context ? `${context}: ${text}` : text, code);
}

export function showInfo(text: string): void {
  push("info", text);
}

function push(kind: "error" | "info", text: string, code?: string): void {
  const box = messageRegion();
  const message = h(
    "div",
    { class: `message ${kind}`, role: kind === "error" ? "alert" : "status", "data-code": code },
    code ? h("code", { class: "code" }, code) : null,
    h("span", { class: "text" }, text),
    h("button", { type: "button", class: "ghost dismiss", "aria-label": "Dismiss message", onclick: () => message.remove() }, "×"),
  );
  box.append(message);
  // Keep the newest few; an info message leaves by itself, an error waits to be read.
  while (box.children.length > 4) box.firstElementChild?.remove();
  if (kind === "info") setTimeout(() => message.remove(), 6000);
}

/** Removes every message (on sign-out, on a new sign-in). */
export function clearMessages(): void {
  messageRegion().replaceChildren();
}
