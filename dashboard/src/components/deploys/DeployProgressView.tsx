// How far a folder deploy got: a progress bar and a line of words for each phase, then the
// result (the live links, or the error).

import { progressPercent, type FolderDeployProgress } from "@/lib/folder_deploy";
import { formatBytes } from "@/lib/format";
import { ErrorNotice, ExternalLink } from "@/components/ui/ui";

export function deployProgressText(p: FolderDeployProgress): string {
  switch (p.phase) {
    case "hashing":
      return `Checking files: ${p.filesHashed} of ${p.filesTotal} (${formatBytes(p.bytesHashed)} of ${formatBytes(p.bytesTotal)})`;
    case "creating":
      return "Creating the deploy…";
    case "uploading":
      return p.uploadsTotal === 0
        ? "All files are already stored; nothing to upload"
        : `Uploading files: ${p.uploadsDone} of ${p.uploadsTotal} (${formatBytes(p.uploadBytesDone)} of ${formatBytes(p.uploadBytesTotal)})`;
    case "processing":
      return "Processing the deploy…";
    case "ready":
      return p.deploy !== null && !p.deploy.published ? "Deploy is ready" : "Deploy is live";
    case "error":
      return "Deploy failed";
    case "canceled":
      return "Deploy canceled";
  }
}

export function DeployProgressView({ progress }: { progress: FolderDeployProgress }) {
  const percent = progressPercent(progress);
  const text = deployProgressText(progress);
  const finished = progress.phase === "ready" || progress.phase === "error" || progress.phase === "canceled";
  return (
    <div className="space-y-3">
      {!finished && (
        <>
          <div
            role="progressbar"
            aria-label="Deploy progress"
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={percent}
            aria-valuetext={text}
            className="h-2.5 w-full overflow-hidden rounded-full bg-slate-200"
          >
            <div className="h-full rounded-full bg-teal-600 transition-all" style={{ width: `${percent}%` }} />
          </div>
          <p aria-live="polite" className="text-sm text-slate-700">
            {text}
          </p>
        </>
      )}
      {progress.phase === "ready" && progress.deploy !== null && (
        <div role="status" className="rounded-md border border-emerald-200 bg-emerald-50 p-4 text-sm text-emerald-950">
          <p className="font-semibold">{text}</p>
          <ul className="mt-2 space-y-1">
            {progress.deploy.published && (
              <li>
                Site: <ExternalLink href={progress.deploy.url}>{progress.deploy.url}</ExternalLink>
              </li>
            )}
            <li>
              This deploy:{" "}
              <ExternalLink href={progress.deploy.deploy_url}>{progress.deploy.deploy_url}</ExternalLink>
            </li>
          </ul>
          {!progress.deploy.published && (
            <p className="mt-2">
              It is not the published deploy: auto publishing is stopped for this site.
            </p>
          )}
        </div>
      )}
      {progress.phase === "error" && (
        <ErrorNotice title={text}>{progress.errorMessage ?? "The deploy failed."}</ErrorNotice>
      )}
      {progress.phase === "canceled" && (
        <p role="status" className="text-sm text-slate-700">
          {text}
        </p>
      )}
    </div>
  );
}
