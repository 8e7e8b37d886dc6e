/**
 * The tab's session: this peer's token and the tokens typed for other peers, kept in
 * sessionStorage — gone when the tab closes, never sent anywhere but to their own peer.
 */
const TOKEN_KEY = "edgepeer.token";
const PEER_TOKEN_PREFIX = "edgepeer.peer-token:";

/** Takes `#token=…` (as printed by `npm start`) out of the address so it is not bookmarked or shared. */
export function takeTokenFromFragment(): string | null {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = params.get("token");
  if (token === null) return null;
  history.replaceState(null, "", `${location.pathname}${location.search}`);
  return token.trim() || null;
}

export const storedToken = (): string | null => sessionStorage.getItem(TOKEN_KEY);
export const storeToken = (token: string): void => sessionStorage.setItem(TOKEN_KEY, token);

export function forgetTokens(): void {
  for (const key of Object.keys(sessionStorage)) {
    if (key === TOKEN_KEY || key.startsWith(PEER_TOKEN_PREFIX)) sessionStorage.removeItem(key);
  }
}

/** A token typed for another peer (for "send to peer"), by that peer's URL. */
export const peerToken = (url: string): string => sessionStorage.getItem(PEER_TOKEN_PREFIX + url) ?? "";
export const storePeerToken = (url: string, token: string): void => sessionStorage.setItem(PEER_TOKEN_PREFIX + url, token);
export const forgetPeerToken = (url: string): void => sessionStorage.removeItem(PEER_TOKEN_PREFIX + url);
