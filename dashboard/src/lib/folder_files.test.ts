import { describe, expect, it } from "vitest";

import { filesFromDrop, filesFromInput, isSkippedPath, type DroppedEntry } from "./folder_files";

function inputFile(relativePath: string, content = "x"): File {
  const file = new File([content], relativePath.split("/").pop()!);
  Object.defineProperty(file, "webkitRelativePath", { value: relativePath });
  return file;
}

// Fake File and Directory Entries; directories answer readEntries in batches of `batch`.
function fileEntry(name: string, content = name): DroppedEntry {
  return {
    isFile: true,
    isDirectory: false,
    name,
    file: (ok: (f: File) => void) => ok(new File([content], name)),
  } as DroppedEntry;
}
function dirEntry(name: string, children: DroppedEntry[], batch = 2): DroppedEntry {
  return {
    isFile: false,
    isDirectory: true,
    name,
    createReader: () => {
      let offset = 0;
      return {
        readEntries: (ok: (e: DroppedEntry[]) => void) => {
          const part = children.slice(offset, offset + batch);
          offset += batch;
          setTimeout(() => ok(part), 0);
        },
      };
    },
  } as DroppedEntry;
}

describe("folder files", () => {
  it("takes paths relative to the chosen folder and leaves out hidden files", () => {
    const s = filesFromInput([
      inputFile("dist/index.html"),
      inputFile("dist/css/site.css"),
      inputFile("dist/.DS_Store"),
      inputFile("dist/.git/config"),
      inputFile("dist/.well-known/security.txt"),
      inputFile("dist/node_modules/x/index.js"),
    ]);
    expect(s.folderName).toBe("dist");
    expect(s.files.map((f) => f.path)).toEqual([
      ".well-known/security.txt",
      "css/site.css",
      "index.html",
    ]);
    expect(s.skipped).toEqual([".DS_Store", ".git/config", "node_modules/x/index.js"]);
  });

  it("isSkippedPath", () => {
    expect(isSkippedPath("a/.hidden/b")).toBe(true);
    expect(isSkippedPath("__MACOSX/a")).toBe(true);
    expect(isSkippedPath("_redirects")).toBe(false);
    expect(isSkippedPath(".well-known/x")).toBe(false);
  });

  it("walks a dropped folder, reading every batch of entries", async () => {
    const dropped = dirEntry("public", [
      fileEntry("index.html"),
      dirEntry("blog", [fileEntry("a.html"), fileEntry("b.html"), fileEntry("c.html")]),
      fileEntry(".env"),
      dirEntry("node_modules", [fileEntry("never-read.js")]),
      fileEntry("_headers"),
    ]);
    const s = await filesFromDrop([dropped]);
    expect(s.folderName).toBe("public");
    expect(s.files.map((f) => f.path)).toEqual([
      "_headers",
      "blog/a.html",
      "blog/b.html",
      "blog/c.html",
      "index.html",
    ]);
    expect(s.skipped).toEqual([".env", "node_modules"]);
    expect(await s.files[4]!.file.text()).toBe("index.html");
  });

  it("keeps several dropped items as they are", async () => {
    const s = await filesFromDrop([fileEntry("index.html"), dirEntry("img", [fileEntry("a.png")])]);
    expect(s.folderName).toBeNull();
    expect(s.files.map((f) => f.path)).toEqual(["img/a.png", "index.html"]);
  });
});
