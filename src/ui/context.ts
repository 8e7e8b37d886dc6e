import { type PeerClient, PeerError } from "../client";
import { showError } from "./messages";
import type { UiScope } from "./scope";

/** What every view gets: this peer's client (with the tab's token) and how to report. */
export interface AppContext {
  client: PeerClient;
  /** This peer's name, from its health answer. */
  peerName: string;
  /** This peer's token, for clients that talk to it with other transports (uploads). */
  token: string;
  /** What the token may do: views hide what it cannot. */
  scope: UiScope;
  /** Shows an error; a refused token signs the tab out instead. */
  fail(err: unknown, context?: string): void;
}

/** Builds `fail`: a 401 from this peer means the token is no longer good. */
export function failureHandler(peerName: string, signOut: (reason: string) => void) {
  return (err: unknown, context?: string): void => {
    if (err instanceof PeerError && err.status === 401 && (err.peer === peerName || err.peer === location.origin)) {
      signOut(err.message);
      return;
    }
    showError(err, context);
  };
}

/** A view: its element, mounted under the tab bar, and optional cleanup. */
export interface View {
  element: HTMLElement;
  dispose?(): void;
}
