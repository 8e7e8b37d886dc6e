import { describe, expect, it } from "vitest";
import { PEER2 } from "../support/peers";
import { call, errorOf } from "../support/http";

const rule = (body: Record<string, unknown>) =>
  call("/api/replication/rules-check", { method: "PUT", body: JSON.stringify({ to: "peer2", token: PEER2.token, ...body }) });

describe("PUT /api/replication/{id}: the folders of a rule", () => {
  it("refuses with 400 a prefix or `as` that is no folder path of the contract (control, bidi, backslash, no trailing /)", async () => {
    for (const prefix of ["a\u0001/", "a\u202e/", "a\\b/", "a", "/a/", "a//", "../"]) {
      for (const body of [{ prefix }, { prefix: "ok/", as: prefix }]) {
        const res = await rule(body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect((await errorOf(res)).code).toBe("bad_request");
      }
    }
    expect((await call("/api/replication/rules-check", { method: "DELETE" })).status).toBe(404);
  });

  it("keeps a rule whose folders are fine, in NFC", async () => {
    const res = await rule({ prefix: "cafe\u0301/", as: "" });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as { prefix: string }).prefix).toBe("caf\u00e9/");
    expect((await call("/api/replication/rules-check", { method: "DELETE" })).status).toBe(204);
  });
});
