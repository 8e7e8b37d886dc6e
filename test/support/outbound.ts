import { env } from "cloudflare:test";

/** A request the peer under test sent out (see test/support/outbound-worker.js). */
export interface OutboundRequest {
  method: string;
  url: string;
}

/** Every request the peer under test has sent out so far, in order (this test file's workerd). */
export async function outboundRequests(): Promise<OutboundRequest[]> {
  const res = await (env as unknown as { OUTBOUND: Fetcher }).OUTBOUND.fetch("http://outbound.test/log");
  return res.json();
}
