import { type Child, h } from "./dom";
import { describeError } from "./messages";

/**
 * Modal dialogs on the native `<dialog>`: focus moves in and back, Escape cancels, the rest
 * of the page is inert while one is open.
 */
export interface DialogOptions {
  title: string;
  body: Child;
  /** Label of the confirming button; without it the dialog only has "Close". */
  confirm?: string;
  danger?: boolean;
  /** A wider dialog (previews). */
  wide?: boolean;
  /** Runs on confirm; a thrown error is shown in the dialog, which stays open for another try. */
  onConfirm?: () => Promise<void> | void;
}

/** Opens a dialog; resolves true when confirmed, false when cancelled or closed. */
export function openDialog(options: DialogOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    let confirmed = false;
    const busy = h("span", { class: "busy", hidden: true, role: "status" }, "Working…");
    const failure = h("p", { class: "message error", role: "alert", hidden: true, "data-testid": "dialog-error" });
    const confirmButton = options.confirm
      ? h("button", { type: "submit", class: options.danger ? "danger" : "primary" }, options.confirm)
      : null;
    const form = h(
      "form",
      { method: "dialog", class: "dialog-body" },
      h("h2", {}, options.title),
      h("div", { class: "dialog-content" }, options.body),
      failure,
      h(
        "div",
        { class: "dialog-actions" },
        busy,
        h("button", { type: "button", onclick: () => dialog.close() }, options.confirm ? "Cancel" : "Close"),
        confirmButton,
      ),
    );
    const dialog = h("dialog", { "aria-label": options.title, class: options.wide ? "wide" : null }, form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!options.confirm) return dialog.close();
      if (confirmButton) confirmButton.disabled = true;
      busy.hidden = false;
      failure.hidden = true;
      try {
        await options.onConfirm?.();
        confirmed = true;
        dialog.close();
      } catch (err) {
        const { code, text } = describeError(err);
        failure.replaceChildren(h("code", { class: "code" }, code), h("span", { class: "text" }, text));
        failure.hidden = false;
      } finally {
        if (confirmButton) confirmButton.disabled = false;
        busy.hidden = true;
      }
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      opener?.focus();
      resolve(confirmed);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** "Delete x? This cannot be undone." — resolves true only on an explicit confirm. */
export function confirmDanger(title: string, text: string, action: string): Promise<boolean> {
  return openDialog({ title, body: h("p", {}, text), confirm: action, danger: true });
}
