"use client";

// The administrator's invites (for `--registration invite`): make a single-use link that lets
// one person register. Shown only to the administrator (the server's first account).

import { useState } from "react";

import { api } from "@/lib/api/client";
import { describeError } from "@/lib/api/errors";
import type { Invite } from "@/lib/api/types";
import { formatDateTime } from "@/lib/format";
import { useApiData } from "@/lib/use_api_data";
import { useAsyncAction } from "@/lib/use_form_submit";
import { Button, Card, CopyableText, ErrorNotice } from "@/components/ui/ui";

export function InvitesCard() {
  const user = useApiData(() => api.currentUser(), []);
  const [invite, setInvite] = useState<Invite | null>(null);
  const creation = useAsyncAction();

  if (user.data === null || !user.data.admin) return null;

  const create = () =>
    void creation.run(async () => {
      setInvite(await api.createInvite());
    });

  return (
    <Card
      title="Invites"
      description="As this server's administrator you can invite people: each link registers one account and expires after 7 days."
    >
      <div className="space-y-4">
        <Button onClick={create} disabled={creation.busy}>
          {creation.busy ? "Creating…" : "Create invite link"}
        </Button>
        {creation.error !== null && (
          <ErrorNotice title="Could not create the invite">{describeError(creation.error)}</ErrorNotice>
        )}
        {invite !== null && (
          <div className="space-y-2" aria-label="New invite">
            <p className="text-sm text-slate-700">
              Send this link to the person you invite. It works once, until{" "}
              <time dateTime={invite.expires_at}>{formatDateTime(invite.expires_at)}</time>, and is
              not shown again.
            </p>
            <CopyableText text={invite.register_url} label="Copy link" />
          </div>
        )}
      </div>
    </Card>
  );
}
