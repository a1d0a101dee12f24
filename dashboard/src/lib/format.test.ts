import { describe, expect, it } from "vitest";

import { displayUrl, firstLine, formatAge, formatBytes, formatDuration, shortSha } from "./format";
import { deployIdFromPath, deployPath, safeNextPath, siteNameFromPath, sitePath } from "./routes";

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

describe("deploy formats", () => {
  it("formatDuration", () => {
    expect(formatDuration(0)).toBe("0s");
    expect(formatDuration(45.4)).toBe("45s");
    expect(formatDuration(65)).toBe("1m 05s");
    expect(formatDuration(3725)).toBe("1h 02m");
  });

  it("shortSha and firstLine", () => {
    expect(shortSha("0123456789abcdef")).toBe("0123456");
    expect(firstLine("Fix the header\n\nBecause")).toBe("Fix the header");
  });
});

describe("deploy routes", () => {
  it("builds and reads /sites/<name>/deploys/<id>/", () => {
    expect(deployPath("my blog", "d/1")).toBe("/sites/my%20blog/deploys/d%2F1/");
    expect(deployIdFromPath("/sites/blog/deploys/6745ab/")).toBe("6745ab");
    expect(deployIdFromPath("/sites/blog/deploys/d%2F1/")).toBe("d/1");
    expect(deployIdFromPath("/sites/_/deploys/_/")).toBeNull();
    expect(deployIdFromPath("/sites/blog/deploys/")).toBeNull();
    expect(deployIdFromPath("/sites/blog/deploys/%E0%A4%A/")).toBeNull();
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
