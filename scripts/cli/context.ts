import { existsSync } from "node:fs";
import { PeerClient, type PeerClientOptions } from "../../src/client/index";
import { DEFAULT_NETWORK_FILE, type Network, findPeer, nodeFetch, readNetwork } from "../../src/client/node";
import { type Flags, UsageError } from "./args";

/** What every command gets: the target peer, the network, the output mode. */
export interface Context {
  flags: Flags;
  json: boolean;
  /** The peer the global flags point at. */
  client(): Promise<PeerClient>;
  /** A client for a peer of the network file, by name. */
  peerClient(name: string): Promise<PeerClient>;
  /** A client for any peer; without a token only public routes and signed links answer. */
  clientFor(peer: { name: string; url: string; token?: string }): PeerClient;
  /** The network file, or null when there is none. */
  network(): Promise<Network | null>;
  networkFile: string;
  /** Client options shared by every peer (multipart threshold, part size). */
  clientOptions: Omit<PeerClientOptions, "url" | "token" | "name">;
  print(text: string): void;
  printJson(value: unknown): void;
}

const DEFAULT_URL = "http://127.0.0.1:8787";

export function createContext(flags: Flags): Context {
  const networkFile = flags.string("network") ?? process.env.EDGEPEER_NETWORK ?? DEFAULT_NETWORK_FILE;
  const json = flags.bool("json");
  const clientOptions: Context["clientOptions"] = {
    fetch: nodeFetch,
    multipartThreshold: flags.bytes("multipart-threshold"),
    partSize: flags.bytes("part-size"),
  };
  let network: Promise<Network | null> | undefined;
  const loadNetwork = () =>
    (network ??= flags.has("network") || existsSync(networkFile) ? readNetwork(networkFile) : Promise.resolve(null));

  const peerClient = async (name: string) => {
    const net = await loadNetwork();
    if (!net) throw new UsageError(`--peer ${name} needs the network file ${networkFile}: start the network with \`npm start\`.`);
    const peer = findPeer(net, name, networkFile);
    return new PeerClient({ ...clientOptions, url: peer.url, token: flags.string("token") ?? peer.token, name: peer.name });
  };

  const client = async () => {
    const peerName = flags.string("peer") ?? process.env.EDGEPEER_PEER;
    const explicit = flags.string("url") ?? (flags.has("host") || flags.has("port") ? hostPortUrl(flags) : undefined);
    if (peerName && explicit) throw new UsageError("Pass either --peer or --url/--host/--port, not both.");
    if (peerName) return peerClient(peerName);
    const net = await loadNetwork();
    const url = explicit ?? process.env.EDGEPEER_URL ?? net?.peers[0]?.url ?? DEFAULT_URL;
    if (!URL.canParse(url)) throw new UsageError(`"${url}" is not a URL.`);
    // A URL of the network file gets that peer's token and name.
    const known = net?.peers.find((p) => sameOrigin(p.url, url));
    const token = flags.string("token") ?? process.env.EDGEPEER_TOKEN ?? known?.token;
    return new PeerClient({ ...clientOptions, url, token, name: known?.name ?? new URL(url).host });
  };

  return {
    flags,
    json,
    client,
    peerClient,
    clientFor: (peer) => new PeerClient({ ...clientOptions, ...peer }),
    network: loadNetwork,
    networkFile,
    clientOptions,
    print: (text) => {
      process.stdout.write(`${text}\n`);
    },
    printJson: (value) => {
      process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
  };
}

function hostPortUrl(flags: Flags): string {
  const host = flags.string("host") ?? "127.0.0.1";
  const port = flags.int("port", 1) ?? 8787;
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

function sameOrigin(a: string, b: string): boolean {
  const x = new URL(a);
  const y = new URL(b);
  const host = (u: URL) => (LOOPBACK.has(u.hostname) ? "loopback" : u.hostname);
  return x.protocol === y.protocol && x.port === y.port && host(x) === host(y);
}
