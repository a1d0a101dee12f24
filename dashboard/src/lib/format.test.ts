import { describe, expect, it } from "vitest";

import { displayUrl, formatAge, formatBytes } from "./format";
import { safeNextPath, siteNameFromPath, sitePath } from "./routes";

describe("format", () => {
  it("formatAge", () => {
    const now = Date.parse("2026-01-10T12:00:00.000Z");
    expect(formatAge("2026-01-10T11:59:50.000Z", now)).toBe("just now");
    expect(formatAge("2026-01-10T11:55:00.000Z", now)).toBe("5 minutes ago");
    expect(formatAge("2026-01-10T11:00:00.000Z", now)).toBe("1 hour ago");
    expect(formatAge("2026-01-07T12:00:00.000Z", now)).toBe("3 days ago");
    expect(formatAge("garbage", now)).toBe("");
  });

  it("formatBytes", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(300 * 1024 * 1024)).toBe("300 MB");
  });

  it("displayUrl", () => {
    expect(displayUrl("http://blog.localhost:8080/")).toBe("blog.localhost:8080");
  });
});

describe("routes", () => {
  it("reads the site name from /sites/<name>/...", () => {
    expect(siteNameFromPath("/sites/my-blog/")).toBe("my-blog");
    expect(siteNameFromPath("/sites/my-blog/deploys/")).toBe("my-blog");
    expect(siteNameFromPath("/sites/_/")).toBeNull();
    expect(siteNameFromPath("/account/")).toBeNull();
    expect(sitePath("my-blog")).toBe("/sites/my-blog/");
  });

  it("only returns to paths on this site after login", () => {
    expect(safeNextPath("/sites/a/")).toBe("/sites/a/");
    expect(safeNextPath("//evil.example/")).toBe("/");
    expect(safeNextPath("https://evil.example/")).toBe("/");
    expect(safeNextPath(null)).toBe("/");
  });
});
