/** Token of the peer under test in worker tests. */
export const TEST_TOKEN = "test-token-local-0123456789";

/** The second peer of worker tests: separate bindings, separate token. */
export const PEER2 = { name: "peer2", url: "http://peer2.test", token: "test-token-peer2-9876543210" } as const;
