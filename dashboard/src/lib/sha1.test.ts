import { createHash } from "node:crypto";

import { describe, expect, it } from "vitest";

import { sha1Hex, sha1HexFallback } from "./sha1";

const text = (s: string) => new TextEncoder().encode(s);

describe("sha1", () => {
  it("matches the FIPS 180 examples", async () => {
    expect(await sha1Hex(text("abc"))).toBe("a9993e364706816aba3e25717850c26c9cd0d89d");
    expect(sha1HexFallback(text("abc"))).toBe("a9993e364706816aba3e25717850c26c9cd0d89d");
    expect(sha1HexFallback(text(""))).toBe("da39a3ee5e6b4b0d3255bfef95601890afd80709");
    expect(sha1HexFallback(text("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))).toBe(
      "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
    );
  });

  it("the JavaScript fallback agrees with Node's SHA-1 at every padding boundary", () => {
    for (const length of [1, 55, 56, 63, 64, 65, 119, 120, 1000, 70_000]) {
      const data = new Uint8Array(length);
      for (let i = 0; i < length; i++) data[i] = (i * 31 + length) & 0xff;
      const expected = createHash("sha1").update(data).digest("hex");
      expect(sha1HexFallback(data)).toBe(expected);
    }
  });
});
