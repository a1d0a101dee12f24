"use client";

// The "Deploy log" card of a deploy's page: the log (live while the build runs), where the live
// connection stands, and the download.

import { api } from "@/lib/api/client";
import { describeError } from "@/lib/api/errors";
import type { Deploy } from "@/lib/api/types";
import { downloadTextFile } from "@/lib/download";
import { logAsText, logFileName } from "@/lib/log_text";
import type { DeployLogData } from "@/lib/use_deploy_log";
import { useAsyncAction } from "@/lib/use_form_submit";
import { Button, Card, ErrorNotice, LoadingNotice } from "@/components/ui/ui";
import { DeployLogView } from "./DeployLogView";

export function DeployLogPanel({
  siteName,
  deploy,
  log,
  live,
}: {
  siteName: string;
  deploy: Deploy;
  log: DeployLogData;
  live: boolean; // the log was opened while the deploy was in progress
}) {
  const { busy: downloading, error: downloadError, run } = useAsyncAction();

  const download = () =>
    run(async () => {
      const full = await api.getDeployLog(deploy.id);
      downloadTextFile(logFileName(siteName, deploy.id), logAsText(full.lines));
    });

  const writing = live && log.end === null;
  const empty =
    deploy.build_id === null && !live
      ? "No build log: this deploy was uploaded, not built."
      : writing
        ? "Waiting for the build to write its first line…"
        : "The build wrote no output.";

  return (
    <Card title="Deploy log" actions={<LogConnectionStatus log={log} />}>
      <div className="space-y-4">
        {log.status === "loading" && <LoadingNotice>Loading the log…</LoadingNotice>}
        {log.status === "load_failed" && (
          <ErrorNotice title="Could not load the log" onRetry={log.retry}>
            {describeError(log.error)}
          </ErrorNotice>
        )}
        {log.status === "polling" && (
          <div role="status" className="flex flex-col gap-3 rounded-md border border-amber-300 bg-amber-50 p-4 text-sm text-amber-950 sm:flex-row sm:items-center sm:justify-between">
            <p>
              No live connection to the build: the log is refreshed every few seconds instead.
              {log.error !== null && ` (${describeError(log.error)})`}
            </p>
            <Button kind="secondary" onClick={log.retry}>
              Connect again
            </Button>
          </div>
        )}
        {log.status === "not_found" && (
          <ErrorNotice title="No log for this deploy">The server does not know this deploy.</ErrorNotice>
        )}
        {downloadError !== null && (
          <ErrorNotice title="Could not download the log">{describeError(downloadError)}</ErrorNotice>
        )}
        {log.status !== "loading" && log.status !== "load_failed" && (
          <DeployLogView
            lines={log.lines}
            live={writing}
            onDownload={() => void download()}
            downloading={downloading}
            empty={empty}
          />
        )}
      </div>
    </Card>
  );
}

function LogConnectionStatus({ log }: { log: DeployLogData }) {
  const text: Partial<Record<DeployLogData["status"], string>> = {
    connecting: "Connecting…",
    live: "Live",
    reconnecting: "Reconnecting…",
    polling: "Refreshing",
  };
  const label = text[log.status];
  if (label === undefined) return null;
  return (
    <p role="status" className="flex items-center gap-2 text-sm text-slate-600" data-testid="log-connection">
      <span
        aria-hidden="true"
        className={`h-2 w-2 rounded-full ${log.status === "live" ? "animate-pulse bg-emerald-500" : "bg-amber-500"}`}
      />
      {label}
    </p>
  );
}

