import { PeerClient, PeerError, type PeerRef } from "../client";
import type { AppContext } from "./context";
import { h, uid } from "./dom";
import { forgetPeerToken, peerToken, storePeerToken } from "./session";

/** The peers this one knows (`PEERS`), without itself. */
export async function otherPeers(ctx: AppContext): Promise<PeerRef[]> {
  return (await ctx.client.peers()).filter((p) => p.name !== ctx.peerName && new URL(p.url).origin !== location.origin);
}

/** A choice of destination peer and its token, as the dialogs of Send, Compare and Sync ask for it. */
export interface PeerPicker {
  /** Labels and inputs, to put in a dialog body. */
  fields: HTMLElement[];
  /** The chosen peer. */
  peer(): PeerRef;
  /** A client of the chosen peer with the typed token. */
  client(): PeerClient;
  /** Keeps the typed token for the tab (after the peer accepted it). */
  remember(): void;
  /**
   * Turns a failure of the destination into one sentence naming it: a refused token is
   * forgotten, and an unreachable peer (what a browser reports for a CORS refusal) says why.
   */
  explain(err: unknown): unknown;
}

/** A `<select>` of `known` peers and a token field filled from the tab's session for the chosen one. */
export function peerPicker(known: PeerRef[], options: { tokenLabel?: string } = {}): PeerPicker {
  const select = h(
    "select",
    { id: uid("peer") },
    known.map((p) => h("option", { value: p.name }, `${p.name} — ${p.url}`)),
  );
  const token = h("input", { id: uid("token"), type: "password", autocomplete: "off", spellcheck: false, required: true });
  const peer = () => known.find((p) => p.name === select.value) ?? (known[0] as PeerRef);
  const fill = () => {
    token.value = peerToken(peer().url);
  };
  select.addEventListener("change", fill);
  fill();
  return {
    fields: [
      h("label", { for: select.id }, "Destination peer"),
      select,
      h("label", { for: token.id }, options.tokenLabel ?? "Destination's token"),
      token,
    ],
    peer,
    client: () => new PeerClient({ url: peer().url, token: token.value.trim(), name: peer().name }),
    remember: () => storePeerToken(peer().url, token.value.trim()),
    explain: (err) => {
      if (!(err instanceof PeerError) || err.peer !== peer().name) return err;
      if (err.status === 401) forgetPeerToken(peer().url);
      const hint =
        err.code === "unreachable"
          ? ` If ${peer().name} is running, it may not allow this page: ${location.origin} must be in its PEERS (or CORS_ORIGINS).`
          : "";
      return new PeerError(err.code, `${peer().name}: ${err.message}${hint}`, err.status, peer().name);
    },
  };
}
