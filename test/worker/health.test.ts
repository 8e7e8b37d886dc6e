import { describe, expect, it } from "vitest";
import { call, errorOf } from "../support/http";

describe("health and peers", () => {
  it("answers health without a token", async () => {
    const res = await call("/api/health", { token: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const body = (await res.json()) as { peer: string; version: string; time: string };
    expect(body.peer).toBe("local");
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(Number.isNaN(Date.parse(body.time))).toBe(false);
  });

  it("lists the known peers from PEERS", async () => {
    const res = await call("/api/peers");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      peers: [
        { name: "local", url: "http://local.test" },
        { name: "peer2", url: "http://peer2.test" },
      ],
    });
  });

  it("answers an unknown route with 404 in the contract's shape", async () => {
    const res = await call("/api/nothing-here");
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("not_found");
  });

  it("answers a wrong method with 405 and Allow", async () => {
    const res = await call("/api/health", { method: "POST" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET");
    expect((await errorOf(res)).code).toBe("method_not_allowed");
  });
});
