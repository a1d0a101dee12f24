"use client";

// The connected GitHub account on the Account page: who it is, disconnect; or connect.

import { useState } from "react";

import { api } from "@/lib/api/client";
import { describeError } from "@/lib/api/errors";
import { useGitHubReturn } from "@/lib/github_return";
import { kAccountPath } from "@/lib/routes";
import { useApiData } from "@/lib/use_api_data";
import { useAsyncAction } from "@/lib/use_form_submit";
import { GitHubNotConfigured } from "@/components/new-site/GitHubSiteSource";
import { ConfirmDialog } from "@/components/ui/ConfirmDialog";
import { Button, Card, ErrorNotice, ExternalLink, LoadingNotice } from "@/components/ui/ui";
import { ConnectGitHubButton } from "./ConnectGitHubButton";
import { GitHubReturnNotice } from "./GitHubReturnNotice";

export function GitHubAccountCard() {
  const account = useApiData(() => api.githubAccount(), []);
  const returned = useGitHubReturn();
  const [confirming, setConfirming] = useState(false);
  const { busy, error, run } = useAsyncAction();

  const disconnect = async () => {
    await run(async () => {
      await api.disconnectGitHub();
      await account.reload();
    });
    setConfirming(false);
  };

  const a = account.data;
  return (
    <Card title="GitHub" description="Build sites from your GitHub repositories.">
      <div className="space-y-4">
        <GitHubReturnNotice value={returned} />
        {a === null && account.loading && <LoadingNotice>Checking the GitHub connection…</LoadingNotice>}
        {a === null && account.error !== null && (
          <ErrorNotice title="Could not check the GitHub connection" onRetry={() => void account.reload()}>
            {describeError(account.error)}
          </ErrorNotice>
        )}
        {a !== null && a.connected && (
          <div className="flex flex-col gap-3 sm:flex-row sm:items-center sm:justify-between">
            <p className="text-sm text-slate-700">
              Connected as{" "}
              <ExternalLink href={a.html_url}>
                <span className="font-semibold">@{a.login}</span>
              </ExternalLink>
              .
            </p>
            <Button kind="secondary" onClick={() => setConfirming(true)}>
              Disconnect GitHub
            </Button>
          </div>
        )}
        {a !== null && !a.connected && a.configured && (
          <div className="space-y-3 text-sm text-slate-700">
            <p>No GitHub account is connected.</p>
            <ConnectGitHubButton returnTo={kAccountPath} />
          </div>
        )}
        {a !== null && !a.connected && !a.configured && <GitHubNotConfigured />}
        {error !== null && (
          <ErrorNotice title="Could not disconnect GitHub">{describeError(error)}</ErrorNotice>
        )}
      </div>
      <ConfirmDialog
        open={confirming}
        title="Disconnect GitHub?"
        confirmLabel="Disconnect"
        confirmKind="danger"
        busy={busy}
        onConfirm={() => void disconnect()}
        onCancel={() => setConfirming(false)}
      >
        The server forgets its GitHub token for {a !== null && a.connected ? `@${a.login}` : "this account"}.
        You can connect again at any time.
      </ConfirmDialog>
    </Card>
  );
}
