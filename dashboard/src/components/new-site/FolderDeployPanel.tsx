"use client";

// Drag and drop deploys: the drop zone, then the progress of the deploy it starts.

import { useRef, useState } from "react";

import { api } from "@/lib/api/client";
import { deployFolder, type FolderDeployProgress } from "@/lib/folder_deploy";
import type { FolderSelection } from "@/lib/folder_files";
import { formatBytes } from "@/lib/format";
import { DeployProgressView } from "@/components/deploys/DeployProgressView";
import { Button } from "@/components/ui/ui";
import { FolderDropZone } from "./FolderDropZone";

export function FolderDeployPanel({
  resolveSite,
  onFinished,
  dropLabel,
}: {
  // The site to deploy to (id or name); null stops (the caller shows why).
  resolveSite: () => Promise<string | null>;
  onFinished?: (progress: FolderDeployProgress) => void;
  dropLabel?: string;
}) {
  const [selection, setSelection] = useState<FolderSelection | null>(null);
  const [progress, setProgress] = useState<FolderDeployProgress | null>(null);
  const [running, setRunning] = useState(false);
  const abort = useRef<AbortController | null>(null);

  const start = async (chosen: FolderSelection) => {
    setSelection(chosen);
    setProgress(null);
    setRunning(true);
    try {
      const site = await resolveSite();
      if (site === null) return;
      const controller = new AbortController();
      abort.current = controller;
      const last = await deployFolder({
        api,
        site,
        files: chosen.files,
        title: chosen.folderName !== null ? `Uploaded folder ${chosen.folderName}` : "Uploaded files",
        onProgress: setProgress,
        signal: controller.signal,
      });
      onFinished?.(last);
    } catch {
      // aborted by "Cancel": the progress already says so
    } finally {
      abort.current = null;
      setRunning(false);
    }
  };

  const cancel = async () => {
    abort.current?.abort();
    const deploy = progress?.deploy;
    if (deploy) {
      try {
        await api.cancelDeploy(deploy.id);
      } catch {
        // it may have finished meanwhile; the deploys list tells
      }
    }
    setProgress((p) => (p === null ? p : { ...p, phase: "canceled" }));
  };

  const finished = !running && progress !== null;
  return (
    <div className="space-y-4">
      {selection !== null && (running || progress !== null) && (
        <p className="text-sm text-slate-600">
          {selection.folderName !== null ? (
            <>
              Folder <span className="font-medium text-slate-800">{selection.folderName}</span>:{" "}
            </>
          ) : null}
          {selection.files.length} {selection.files.length === 1 ? "file" : "files"},{" "}
          {formatBytes(selection.files.reduce((n, f) => n + f.file.size, 0))}
          {selection.skipped.length > 0 &&
            ` (${selection.skipped.length} hidden or node_modules ${selection.skipped.length === 1 ? "entry" : "entries"} left out)`}
        </p>
      )}
      {progress !== null && <DeployProgressView progress={progress} />}
      {running && progress !== null && progress.phase !== "ready" && (
        <Button kind="secondary" onClick={() => void cancel()}>
          Cancel deploy
        </Button>
      )}
      {finished && progress.phase === "error" && selection !== null && (
        <Button kind="secondary" onClick={() => void start(selection)}>
          Try again with the same folder
        </Button>
      )}
      {!running && (
        <FolderDropZone
          onFiles={(s) => void start(s)}
          label={finished ? "Drop another folder to deploy it" : dropLabel}
        />
      )}
    </div>
  );
}
