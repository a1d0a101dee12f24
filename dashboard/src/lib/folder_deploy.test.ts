import { createHash } from "node:crypto";

import { describe, expect, it, vi } from "vitest";

import { ApiError } from "./api/errors";
import type { Deploy } from "./api/types";
import {
  deployFolder,
  fileDigests,
  planUploads,
  progressPercent,
  initialProgress,
  type DeployApi,
  type FolderDeployProgress,
  type HashedFile,
} from "./folder_deploy";
import type { FolderFile } from "./folder_files";

const sha1 = (s: string) => createHash("sha1").update(s).digest("hex");

function folder(files: Record<string, string>): FolderFile[] {
  return Object.entries(files).map(([path, content]) => ({ path, file: new Blob([content]) }));
}

function deploy(change: Partial<Deploy>): Deploy {
  return {
    id: "d1",
    state: "new",
    required: [],
    error_message: null,
    deploy_url: "http://d1--s.localhost:8080",
    url: "http://s.localhost:8080",
    published: false,
    ...change,
  } as Deploy;
}

// An API that needs the files whose SHA-1s are in `missing`, then reports `states` on polls.
function fakeApi(missing: string[], states: Partial<Deploy>[]) {
  const uploads: string[] = [];
  const declared: Record<string, string>[] = [];
  const api: DeployApi = {
    createDeploy: vi.fn(async () => deploy({})),
    setDeployFiles: vi.fn(async (_site: string, _id: string, files: Record<string, string>) => {
      declared.push(files);
      return deploy({ state: "uploading", required: missing });
    }),
    uploadDeployFile: vi.fn(async (_id: string, path: string, bytes: Blob | ArrayBuffer | Uint8Array) => {
      uploads.push(path);
      return { id: path, path: "/" + path, sha: "", mime_type: "", size: (bytes as Blob).size };
    }),
    getDeploy: vi.fn(async () => deploy(states.shift() ?? { state: "processing" })),
  };
  return { api, uploads, declared };
}

describe("upload planning", () => {
  const hashed: HashedFile[] = [
    { path: "index.html", file: new Blob(["a"]), sha1: "s1", size: 1 },
    { path: "copy.html", file: new Blob(["a"]), sha1: "s1", size: 1 },
    { path: "b.css", file: new Blob(["bb"]), sha1: "s2", size: 2 },
  ];

  it("uploads one file per required SHA-1", () => {
    expect(planUploads(hashed, ["s1", "s2", "s1"]).map((f) => f.path)).toEqual(["index.html", "b.css"]);
    expect(planUploads(hashed, [])).toEqual([]);
  });

  it("refuses a SHA-1 that is not in the folder", () => {
    expect(() => planUploads(hashed, ["zz"])).toThrow(/not in the folder/);
  });

  it("declares paths without a leading slash", () => {
    expect(fileDigests([{ ...hashed[0]!, path: "/index.html" }])).toEqual({ "index.html": "s1" });
  });

  it("progressPercent grows through the phases", () => {
    const files = folder({ "a.html": "12345" });
    const p = initialProgress(files);
    expect(progressPercent(p)).toBe(0);
    expect(progressPercent({ ...p, bytesHashed: 5 })).toBe(20);
    const uploading: FolderDeployProgress = { ...p, phase: "uploading", uploadBytesTotal: 10, uploadBytesDone: 5 };
    expect(progressPercent(uploading)).toBe(58);
    expect(progressPercent({ ...uploading, uploadBytesTotal: 0 })).toBe(95);
    expect(progressPercent({ ...p, phase: "ready" })).toBe(100);
  });
});

describe("deployFolder", () => {
  const noSleep = async () => {};

  it("hashes, declares, uploads only what is required, and polls until ready", async () => {
    const files = folder({ "index.html": "<h1>hi</h1>", "same.html": "<h1>hi</h1>", "a.css": "body{}" });
    const { api, uploads, declared } = fakeApi([sha1("<h1>hi</h1>")], [
      { state: "processing" },
      { state: "ready", published: true },
    ]);
    const seen: FolderDeployProgress[] = [];
    const last = await deployFolder({ api, site: "s", files, onProgress: (p) => seen.push(p), sleep: noSleep });

    expect(last.phase).toBe("ready");
    expect(last.deploy?.published).toBe(true);
    expect(declared[0]).toEqual({
      "index.html": sha1("<h1>hi</h1>"),
      "same.html": sha1("<h1>hi</h1>"),
      "a.css": sha1("body{}"),
    });
    expect(uploads).toEqual(["index.html"]);
    expect(api.getDeploy).toHaveBeenCalledTimes(2);
    const hashing = seen.filter((p) => p.phase === "hashing").map((p) => p.filesHashed);
    expect(hashing).toEqual([0, 1, 2, 3]);
    const uploading = seen.filter((p) => p.phase === "uploading");
    expect(uploading.at(-1)).toMatchObject({ uploadsDone: 1, uploadsTotal: 1, uploadBytesDone: 11, uploadBytesTotal: 11 });
    expect(seen.map((p) => p.phase)).toContain("processing");
  });

  it("ends in error with the deploy's error_message", async () => {
    const { api } = fakeApi([], [{ state: "error", error_message: "_redirects line 3: bad status" }]);
    const last = await deployFolder({ api, site: "s", files: folder({ "a.html": "a" }), onProgress: () => {}, sleep: noSleep });
    expect(last.phase).toBe("error");
    expect(last.errorMessage).toBe("_redirects line 3: bad status");
  });

  it("ends in error with the API's message when a call fails", async () => {
    const { api } = fakeApi([], []);
    api.createDeploy = vi.fn(async () => {
      throw new ApiError(404, "not_found", "site not found");
    });
    const last = await deployFolder({ api, site: "gone", files: folder({ "a.html": "a" }), onProgress: () => {}, sleep: noSleep });
    expect(last).toMatchObject({ phase: "error", errorMessage: "Site not found" });
  });

  it("retries an upload that failed on the network, not one the server refused", async () => {
    const { api } = fakeApi([sha1("a")], [{ state: "ready" }]);
    const upload = vi
      .fn()
      .mockRejectedValueOnce(new ApiError(0, "network", "offline"))
      .mockResolvedValueOnce({});
    api.uploadDeployFile = upload;
    const ok = await deployFolder({ api, site: "s", files: folder({ "a.html": "a" }), onProgress: () => {}, sleep: noSleep });
    expect(ok.phase).toBe("ready");
    expect(upload).toHaveBeenCalledTimes(2);

    const refused = fakeApi([sha1("a")], []);
    refused.api.uploadDeployFile = vi.fn().mockRejectedValue(
      new ApiError(422, "digest_mismatch", "content of '/a.html' does not match the SHA-1 declared for it"),
    );
    const failed = await deployFolder({ api: refused.api, site: "s", files: folder({ "a.html": "a" }), onProgress: () => {}, sleep: noSleep });
    expect(failed.phase).toBe("error");
    expect(refused.api.uploadDeployFile).toHaveBeenCalledTimes(1);
  });

  it("refuses an empty folder before calling the API", async () => {
    const { api } = fakeApi([], []);
    const last = await deployFolder({ api, site: "s", files: [], onProgress: () => {} });
    expect(last.phase).toBe("error");
    expect(api.createDeploy).not.toHaveBeenCalled();
  });
});
