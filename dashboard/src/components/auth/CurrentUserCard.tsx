"use client";

import { api } from "@/lib/api/client";
import { describeError } from "@/lib/api/errors";
import { formatDateTime } from "@/lib/format";
import { useApiData } from "@/lib/use_api_data";
import { Card, ErrorNotice, LoadingNotice } from "@/components/ui/ui";

export function CurrentUserCard() {
  const user = useApiData(() => api.currentUser(), []);
  return (
    <Card title="Your account">
      {user.data === null && user.loading && <LoadingNotice />}
      {user.error !== null && (
        <ErrorNotice title="Could not load your account" onRetry={() => void user.reload()}>
          {describeError(user.error)}
        </ErrorNotice>
      )}
      {user.data !== null && (
        <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
          <dt className="font-medium text-slate-600">Email</dt>
          <dd className="break-all text-slate-900">{user.data.email}</dd>
          {user.data.full_name !== "" && (
            <>
              <dt className="font-medium text-slate-600">Name</dt>
              <dd className="text-slate-900">{user.data.full_name}</dd>
            </>
          )}
          <dt className="font-medium text-slate-600">Account</dt>
          <dd className="font-mono text-slate-900">{user.data.account_slug}</dd>
          <dt className="font-medium text-slate-600">Member since</dt>
          <dd className="text-slate-900">{formatDateTime(user.data.created_at)}</dd>
        </dl>
      )}
    </Card>
  );
}
