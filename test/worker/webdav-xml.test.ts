import { describe, expect, it } from "vitest";
import type { HttpError } from "../../src/http/errors";
import { scopedAccess } from "../../src/webdav/auth";
import { parseIf } from "../../src/webdav/ifHeader";
import { hrefOf, nameOfPath } from "../../src/webdav/paths";
import { DAV, childElements, dav, el, fromParsed, parseXml, renderXml, textOf } from "../../src/webdav/xml";

describe("WebDAV XML parser", () => {
  it("resolves namespaces whatever the prefixes, default namespace included", () => {
    const root = parseXml(`<?xml version="1.0"?><propfind xmlns="DAV:"><prop><a:x xmlns:a="urn:a"/><y xmlns="urn:y"/></prop></propfind>`);
    expect([root.ns, root.local]).toEqual([DAV, "propfind"]);
    const props = childElements(childElements(root, DAV, "prop")[0]!);
    expect(props.map((p) => `{${p.ns}}${p.local}`)).toEqual(["{urn:a}x", "{urn:y}y"]);
  });

  it("refuses declared entities (no expansion), undeclared prefixes and malformed XML with 400", () => {
    const cases = [
      `<!DOCTYPE d [<!ENTITY a "aaaa">]><d xmlns="DAV:">&a;</d>`,
      `<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><d>&e;</d>`,
      `<D:propfind xmlns:D="DAV:"><Z:x/></D:propfind>`,
      `<a><b></a>`,
      ``,
    ];
    for (const text of cases) expect(() => parseXml(text), text).toThrowError(/malformed|no root/);
  });

  it("keeps predefined and character references as text", () => {
    expect(textOf(parseXml(`<a>&lt;&amp;&#x10348;</a>`))).toBe("<&\u{10348}");
  });

  it("refuses a body past its element bound", () => {
    expect(() => parseXml(`<a>${"<b/>".repeat(10_001)}</a>`)).toThrowError(/too large/);
  });
});

describe("WebDAV XML builder", () => {
  it("escapes text and attributes, and declares each namespace it uses", () => {
    const xml = renderXml(dav("multistatus", [dav("href", ['a<b>&"c"']), el("urn:z", "p", ["v"])]));
    expect(xml).toContain("<D:href>a&lt;b&gt;&amp;&quot;c&quot;</D:href>");
    expect(xml).toMatch(/<ns1:p xmlns:ns1="urn:z">v<\/ns1:p>/);
    expect(parseXml(xml).local).toBe("multistatus");
  });

  it("writes a parsed element back with its namespaces, attributes included", () => {
    const parsed = parseXml(`<x:a xmlns:x="urn:x" xmlns:y="urn:y" y:attr="1" plain="2"><y:b>t</y:b></x:a>`);
    const again = parseXml(renderXml(dav("prop", [fromParsed(parsed)])));
    const a = childElements(again)[0]!;
    expect([a.ns, a.local]).toEqual(["urn:x", "a"]);
    expect(a.attrs).toEqual(
      expect.arrayContaining([
        { ns: "urn:y", local: "attr", value: "1" },
        { ns: "", local: "plain", value: "2" },
      ]),
    );
    expect(childElements(a)[0]).toMatchObject({ ns: "urn:y", local: "b", children: ["t"] });
  });
});

describe("WebDAV hrefs and If headers", () => {
  it("decodes paths to NFC names and encodes names to hrefs, both ways", () => {
    expect(nameOfPath("/dav/")).toBe("");
    expect(nameOfPath("/dav/a%20b/caf%C3%A9/")).toBe("a b/café");
    expect(nameOfPath(`/dav/${encodeURIComponent("cafe\u0301")}`)).toBe("café");
    expect(hrefOf("a b/café ✓", false)).toBe("/dav/a%20b/caf%C3%A9%20%E2%9C%93");
    expect(hrefOf("a b", true)).toBe("/dav/a%20b/");
    expect(() => nameOfPath("/dav/a/%2e%2e/b")).toThrowError(/'\.\.'|segment/);
    expect(() => nameOfPath("/dav/%ff")).toThrowError(/percent/);
  });

  it("parses tagged and untagged If lists with Not, tokens and etags; malformed is 400", () => {
    expect(parseIf(`(<urn:uuid:1> ["e1"]) (Not <DAV:no-lock>)`)).toEqual([
      {
        resource: null,
        conditions: [
          { not: false, token: "urn:uuid:1" },
          { not: false, etag: '"e1"' },
        ],
      },
      { resource: null, conditions: [{ not: true, token: "DAV:no-lock" }] },
    ]);
    expect(parseIf(`</dav/a> (<urn:uuid:2>)`)).toEqual([{ resource: "/dav/a", conditions: [{ not: false, token: "urn:uuid:2" }] }]);
    for (const bad of ["", "<urn:x>", "(", "()", "(<a>", "x"]) expect(() => parseIf(bad), bad).toThrowError(/malformed/);
  });
});

describe("WebDAV scope of a token", () => {
  const access = scopedAccess({ ops: new Set(["read", "write"]), prefix: "photos/" });
  const refused = (fn: () => void) => {
    try {
      fn();
    } catch (err) {
      return (err as HttpError).status;
    }
    return 0;
  };

  it("allows its operations on files under its prefix and the prefix's own folder", () => {
    expect(refused(() => access.require("write", "photos/2025/a.jpg", "file"))).toBe(0);
    expect(refused(() => access.require("read", "photos", "folder"))).toBe(0);
    expect(refused(() => access.require("read", "photos"))).toBe(0);
  });

  it("refuses with 403 an operation it lacks, a name outside, the root, and a file named as its folder", () => {
    expect(refused(() => access.require("delete", "photos/a.jpg", "file"))).toBe(403);
    expect(refused(() => access.require("read", "docs/a.txt", "file"))).toBe(403);
    expect(refused(() => access.require("read", "", "folder"))).toBe(403);
    expect(refused(() => access.require("write", "photos", "file"))).toBe(403);
    expect(refused(() => access.require("read", "photosx/a", "file"))).toBe(403);
  });
});
