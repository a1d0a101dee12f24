"use client";

// "Connect with GitHub" (or "Reconnect GitHub"): asks the server for GitHub's authorization
// page and goes there; GitHub comes back to `returnTo`.

import { api } from "@/lib/api/client";
import { describeError } from "@/lib/api/errors";
import { useAsyncAction } from "@/lib/use_form_submit";
import { Button, type ButtonKind } from "@/components/ui/ui";

export function ConnectGitHubButton({
  returnTo,
  label = "Connect with GitHub",
  kind = "primary",
  navigate = (url: string) => window.location.assign(url),
}: {
  returnTo: string;
  label?: string;
  kind?: ButtonKind;
  navigate?: (url: string) => void;
}) {
  const { busy, error, run } = useAsyncAction({ leavesPage: true });
  const connect = () => run(async () => navigate(await api.githubAuthorizeUrl(returnTo)));
  return (
    <div className="space-y-2">
      <Button kind={kind} onClick={() => void connect()} disabled={busy}>
        {busy ? "Opening GitHub…" : label}
      </Button>
      {error !== null && (
        <p role="alert" className="text-sm text-red-700">
          {describeError(error)}
        </p>
      )}
    </div>
  );
}
