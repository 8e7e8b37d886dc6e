import { PeerClient, PeerError } from "../client";
import { type AppContext, type View, failureHandler } from "./context";
import { h, mount } from "./dom";
import { clearMessages, describeError, messageRegion } from "./messages";
import { type UiScope, scopeOf } from "./scope";
import { forgetTokens, storeToken, storedToken, takeTokenFromFragment } from "./session";
import { accessView } from "./views/access";
import { dashboardView } from "./views/dashboard";
import { filesView } from "./views/files";
import { memoryView } from "./views/memory";
import { replicationView } from "./views/replication";
import { tasksView } from "./views/tasks";

/** Each section and whether a token's scope can use it (a scoped token sees only those). */
const TABS = [
  { id: "dashboard", label: "Dashboard", view: dashboardView, shown: (s: UiScope) => s.peer },
  { id: "files", label: "Files", view: filesView, shown: (s: UiScope) => s.ops.has("read") || s.ops.has("write") },
  { id: "memory", label: "Memory", view: memoryView, shown: (s: UiScope) => s.ops.has("memory") },
  { id: "tasks", label: "Tasks", view: tasksView, shown: (s: UiScope) => s.ops.has("tasks") },
  { id: "replication", label: "Replication", view: replicationView, shown: (s: UiScope) => s.peer },
  { id: "access", label: "Access", view: accessView, shown: (s: UiScope) => s.peer },
] as const;

type TabId = (typeof TABS)[number]["id"];

/** Starts the UI in `root`: signs in with the fragment's or the tab's token, or asks for one. */
export async function startApp(root: HTMLElement): Promise<void> {
  const fragmentToken = takeTokenFromFragment();
  const origin = location.origin;
  let peerName = location.host;
  try {
    peerName = (await new PeerClient({ url: origin }).health()).peer;
  } catch {
    // The sign-in attempt below reports why the peer does not answer.
  }
  document.title = `${peerName} · edgepeer`;
  const app = new App(root, origin, peerName);
  const token = fragmentToken ?? storedToken();
  // Without a token, try none: a peer with AUTH = "none" needs none, any other refuses quietly.
  await app.signIn(token ?? "", { quiet: !token });
}

class App {
  private context: AppContext | null = null;
  private main: HTMLElement | null = null;
  private view: View | null = null;
  private readonly onHashChange = () => this.renderTab();

  constructor(
    private readonly root: HTMLElement,
    private readonly origin: string,
    private readonly peerName: string,
  ) {}

  /** Checks the token with an authenticated call; keeps it for the tab only if the peer accepts it. */
  async signIn(token: string, options: { quiet?: boolean } = {}): Promise<void> {
    const client = new PeerClient({ url: this.origin, token: token || undefined, name: this.peerName });
    try {
      // Any valid token may list the peers; stats would refuse a scoped token.
      await client.peers();
    } catch (err) {
      const refused = err instanceof PeerError && err.status === 401;
      if (refused) forgetTokens();
      if (options.quiet && refused) this.showSignedOut();
      else this.showSignedOut(refused ? `The peer refused this token: ${err.message}` : describeError(err).text);
      return;
    }
    if (token) storeToken(token);
    clearMessages();
    this.showSignedIn({
      client,
      token,
      scope: scopeOf(token),
      peerName: this.peerName,
      fail: failureHandler(this.peerName, (reason) => this.signOut(`Signed out: the peer refused the token (${reason})`)),
    });
  }

  signOut(reason?: string): void {
    forgetTokens();
    clearMessages();
    this.showSignedOut(reason);
  }

  showSignedOut(reason?: string): void {
    this.disposeView();
    window.removeEventListener("hashchange", this.onHashChange);
    const input = h("input", {
      id: "token",
      name: "token",
      type: "password",
      autocomplete: "off",
      spellcheck: false,
      required: true,
      "aria-describedby": "token-help",
    });
    const form = h(
      "form",
      { class: "signin card", "aria-labelledby": "signin-title" },
      h("h1", { id: "signin-title" }, "Sign in to ", h("span", { class: "peer-name" }, this.peerName)),
      h("p", { class: "signed-out", "data-testid": "signed-out" }, "You are signed out. Nothing of this peer is shown without its token."),
      reason ? h("p", { class: "message error", role: "alert", "data-testid": "signin-error" }, reason) : null,
      h("label", { for: "token" }, "Peer token"),
      input,
      h(
        "p",
        { id: "token-help", class: "hint" },
        "Open the address ",
        h("code", {}, "npm start"),
        " printed (it ends in ",
        h("code", {}, "#token=…"),
        "), or paste this peer's ",
        h("code", {}, "PEER_TOKEN"),
        ". It is kept for this tab only.",
      ),
      h("button", { type: "submit", class: "primary" }, "Sign in"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (token) void this.signIn(token);
    });
    mount(this.root, h("main", { class: "signed-out-page" }, form), messageRegion());
    input.focus();
  }

  private showSignedIn(ctx: AppContext): void {
    this.context = ctx;
    const tabs = h(
      "nav",
      { class: "tabs", "aria-label": "Sections" },
      this.tabs().map((tab) => h("a", { href: `#${tab.id}`, "data-tab": tab.id }, tab.label)),
    );
    const header = h(
      "header",
      { class: "topbar" },
      h(
        "div",
        { class: "brand" },
        h("img", { src: "/assets/icon.svg", alt: "", width: 24, height: 24 }),
        h("span", {}, "edgepeer"),
        h("strong", { class: "peer-name", "data-testid": "peer-name" }, this.peerName),
      ),
      tabs,
      h("button", { type: "button", class: "ghost signout", onclick: () => this.signOut() }, "Sign out"),
    );
    this.main = h("main", { id: "main", class: "content", tabindex: -1 });
    mount(
      this.root,
      h("a", { href: "#main", class: "skip", onclick: (e: Event) => this.skipToMain(e) }, "Skip to content"),
      header,
      messageRegion(),
      this.main,
    );
    window.addEventListener("hashchange", this.onHashChange);
    this.renderTab();
  }

  /** The sections the signed-in token can use. */
  private tabs() {
    const scope = this.context?.scope;
    return TABS.filter((t) => !scope || t.shown(scope));
  }

  private currentTab(): TabId {
    const id = location.hash.replace(/^#/, "");
    const tabs = this.tabs();
    return tabs.find((t) => t.id === id)?.id ?? tabs[0]?.id ?? "dashboard";
  }

  private renderTab(): void {
    if (!this.context || !this.main) return;
    const id = this.currentTab();
    for (const link of this.root.querySelectorAll<HTMLAnchorElement>("nav.tabs a")) {
      if (link.dataset.tab === id) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    this.disposeView();
    const tab = this.tabs().find((t) => t.id === id) ?? TABS[0];
    this.view = tab.view(this.context);
    mount(this.main, this.view.element);
  }

  private skipToMain(event: Event): void {
    event.preventDefault();
    this.main?.focus();
  }

  private disposeView(): void {
    this.view?.dispose?.();
    this.view = null;
  }
}
