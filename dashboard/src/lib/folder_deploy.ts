// Deploys a folder from the browser through the digest deploy API:
//   1. hash every file (SHA-1),
//   2. POST /sites/{site}/deploys, then PUT the file list; the answer's `required` names the
//      SHA-1s the server lacks,
//   3. upload one file per required SHA-1 (a few at a time),
//   4. poll the deploy until it is ready (or error / canceled).
// Progress goes to a callback as plain data; the UI only draws it.

import type { ApiClient } from "./api/client";
import { ApiError } from "./api/errors";
import type { Deploy, FileDigests } from "./api/types";
import type { FolderFile } from "./folder_files";
import { sha1Hex } from "./sha1";

export const kMaxFileBytes = 256 * 1024 * 1024; // the server's per-file upload limit

export type DeployPhase =
  | "hashing"
  | "creating"
  | "uploading"
  | "processing"
  | "ready"
  | "error"
  | "canceled";

export interface FolderDeployProgress {
  phase: DeployPhase;
  filesHashed: number;
  filesTotal: number;
  bytesHashed: number;
  bytesTotal: number;
  uploadsDone: number; // files uploaded of uploadsTotal
  uploadsTotal: number;
  uploadBytesDone: number;
  uploadBytesTotal: number;
  deploy: Deploy | null;
  errorMessage: string | null;
}

export interface HashedFile extends FolderFile {
  sha1: string;
  size: number;
}

export function initialProgress(files: FolderFile[]): FolderDeployProgress {
  return {
    phase: "hashing",
    filesHashed: 0,
    filesTotal: files.length,
    bytesHashed: 0,
    bytesTotal: files.reduce((sum, f) => sum + f.file.size, 0),
    uploadsDone: 0,
    uploadsTotal: 0,
    uploadBytesDone: 0,
    uploadBytesTotal: 0,
    deploy: null,
    errorMessage: null,
  };
}

// 0..100 for the progress bar: hashing is the first 20 %, uploading the next 75 %, processing
// the rest.
export function progressPercent(p: FolderDeployProgress): number {
  const frac = (done: number, total: number) => (total <= 0 ? 1 : Math.min(1, done / total));
  switch (p.phase) {
    case "hashing":
      return Math.round(20 * frac(p.bytesHashed, p.bytesTotal));
    case "creating":
      return 20;
    case "uploading":
      return Math.round(20 + 75 * frac(p.uploadBytesDone, p.uploadBytesTotal));
    case "processing":
      return 95;
    case "ready":
      return 100;
    case "error":
    case "canceled":
      return 0;
  }
}

export async function hashFiles(
  files: FolderFile[],
  onFile: (file: HashedFile) => void = () => {},
  digest: (data: ArrayBuffer) => Promise<string> = sha1Hex,
): Promise<HashedFile[]> {
  const out: HashedFile[] = [];
  for (const f of files) {
    const hashed: HashedFile = { ...f, sha1: await digest(await f.file.arrayBuffer()), size: f.file.size };
    out.push(hashed);
    onFile(hashed);
  }
  return out;
}

// The file list the deploy API takes: path (no leading slash) -> SHA-1.
export function fileDigests(files: HashedFile[]): FileDigests {
  const out: FileDigests = {};
  for (const f of files) out[f.path.replace(/^\/+/, "")] = f.sha1;
  return out;
}

// One file per SHA-1 the server asked for: identical files are uploaded once.
export function planUploads(files: HashedFile[], required: string[]): HashedFile[] {
  const bySha = new Map<string, HashedFile>();
  for (const f of files) if (!bySha.has(f.sha1)) bySha.set(f.sha1, f);
  const plan: HashedFile[] = [];
  for (const sha of new Set(required)) {
    const file = bySha.get(sha);
    if (file === undefined) {
      throw new Error(`the server asked for a file that is not in the folder (SHA-1 ${sha})`);
    }
    plan.push(file);
  }
  return plan;
}

export function isFinalState(state: string): boolean {
  return state === "ready" || state === "error" || state === "canceled";
}

export type DeployApi = Pick<
  ApiClient,
  "createDeploy" | "setDeployFiles" | "uploadDeployFile" | "getDeploy"
>;

export interface FolderDeployOptions {
  api: DeployApi;
  site: string; // id or name
  files: FolderFile[];
  onProgress: (p: FolderDeployProgress) => void;
  draft?: boolean;
  title?: string;
  concurrency?: number;
  pollIntervalMs?: number;
  timeoutMs?: number; // for processing, after the uploads
  sleep?: (ms: number) => Promise<void>;
  digest?: (data: ArrayBuffer) => Promise<string>;
  signal?: AbortSignal;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// Runs the whole flow. Resolves with the last progress (phase ready, error or canceled); throws
// only when the signal aborts. API failures end in phase "error" with the API's message.
export async function deployFolder(options: FolderDeployOptions): Promise<FolderDeployProgress> {
  const { api, site, files, onProgress } = options;
  const sleep = options.sleep ?? defaultSleep;
  let progress = initialProgress(files);
  const update = (change: Partial<FolderDeployProgress>) => {
    progress = { ...progress, ...change };
    onProgress(progress);
    return progress;
  };
  const fail = (message: string) => update({ phase: "error", errorMessage: message });

  if (files.length === 0) return fail("The folder has no files to deploy.");
  const tooBig = files.find((f) => f.file.size > kMaxFileBytes);
  if (tooBig !== undefined) {
    return fail(`${tooBig.path} is larger than 256 MiB, the most one file may be.`);
  }
  onProgress(progress);

  try {
    const hashed = await hashFiles(
      files,
      (f) =>
        update({ filesHashed: progress.filesHashed + 1, bytesHashed: progress.bytesHashed + f.size }),
      options.digest,
    );
    options.signal?.throwIfAborted();

    update({ phase: "creating" });
    let deploy = await api.createDeploy(site, { draft: options.draft ?? false, title: options.title });
    update({ deploy });
    deploy = await api.setDeployFiles(site, deploy.id, fileDigests(hashed));
    const plan = planUploads(hashed, deploy.required);
    update({
      phase: "uploading",
      deploy,
      uploadsTotal: plan.length,
      uploadBytesTotal: plan.reduce((sum, f) => sum + f.size, 0),
    });

    await runLimited(plan, options.concurrency ?? 4, async (file) => {
      options.signal?.throwIfAborted();
      await uploadWithRetry(api, deploy.id, file, sleep, options.signal);
      update({
        uploadsDone: progress.uploadsDone + 1,
        uploadBytesDone: progress.uploadBytesDone + file.size,
      });
    });

    update({ phase: "processing" });
    const deadline = Date.now() + (options.timeoutMs ?? 10 * 60 * 1000);
    for (;;) {
      deploy = await api.getDeploy(deploy.id, options.signal);
      if (deploy.state === "ready") return update({ phase: "ready", deploy });
      if (deploy.state === "error") {
        return update({
          phase: "error",
          deploy,
          errorMessage: deploy.error_message ?? "The deploy failed.",
        });
      }
      if (deploy.state === "canceled") return update({ phase: "canceled", deploy });
      update({ deploy });
      if (Date.now() > deadline) {
        return fail(`The deploy is still ${deploy.state}; check the deploys list later.`);
      }
      await sleep(options.pollIntervalMs ?? 1000);
    }
  } catch (e) {
    if (options.signal?.aborted) throw e;
    if (e instanceof ApiError) return fail(capitalizeFirst(e.message));
    return fail(e instanceof Error ? capitalizeFirst(e.message) : "The deploy failed.");
  }
}

function capitalizeFirst(s: string): string {
  return s.length === 0 ? s : s[0]!.toUpperCase() + s.slice(1);
}

async function uploadWithRetry(
  api: DeployApi,
  deployId: string,
  file: HashedFile,
  sleep: (ms: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await api.uploadDeployFile(deployId, file.path, file.file, signal);
      return;
    } catch (e) {
      // Network failures and server errors are worth another try; 4xx answers are not.
      const retriable = e instanceof ApiError && (e.status === 0 || e.status >= 500);
      if (!retriable || attempt >= 3) throw e;
      await sleep(500 * attempt);
    }
  }
}

async function runLimited<T>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false; // after one failure the other workers take no new items
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
