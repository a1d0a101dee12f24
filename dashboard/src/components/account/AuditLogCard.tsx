"use client";

// The account's audit log: logins (also failed ones, with the address they came from), token and
// session changes, site and deploy changes; newest first, older pages on demand.

import { useState } from "react";

import { api } from "@/lib/api/client";
import { describeError } from "@/lib/api/errors";
import type { AuditEvent } from "@/lib/api/types";
import { formatDateTime } from "@/lib/format";
import { useApiData } from "@/lib/use_api_data";
import { useAsyncAction } from "@/lib/use_form_submit";
import { Button, Card, ErrorNotice, LoadingNotice } from "@/components/ui/ui";
import { describeUserAgent } from "./SessionsCard";

const kPageSize = 25;

const kActionLabels: Record<string, string> = {
  "user.registered": "Account created",
  "login.succeeded": "Logged in",
  "login.failed": "Failed login",
  logout: "Logged out",
  "password.changed": "Password changed",
  "password.change_failed": "Wrong current password",
  "session.revoked": "Session ended",
  "token.created": "API token created",
  "token.revoked": "API token revoked",
  "site.created": "Site created",
  "site.updated": "Site settings changed",
  "site.deleted": "Site deleted",
  "env.updated": "Environment variable set",
  "env.deleted": "Environment variable deleted",
  "deploy.published": "Deploy published",
  "deploy.rolled_back": "Rolled back",
  "deploy.locked": "Deploy locked",
  "deploy.unlocked": "Auto-publishing resumed",
};

export function actionLabel(action: string): string {
  return kActionLabels[action] ?? action;
}

// What the event is about, in words: a token's or site's name, a variable's key, a deploy id.
function subject(e: AuditEvent): string {
  const d = e.details;
  if (typeof d.name === "string") return d.name;
  if (typeof d.key === "string") return d.key;
  if (e.action.startsWith("deploy.")) return e.target;
  return "";
}

function via(e: AuditEvent): string {
  if (e.actor.credential === "api_token") return "with an API token";
  if (e.actor.user_id === null) return e.action === "login.failed" ? "" : "automatically";
  return "";
}

export function AuditLogCard() {
  const first = useApiData(() => api.auditEvents({ limit: kPageSize }), []);
  const [older, setOlder] = useState<AuditEvent[]>([]);
  const [next, setNext] = useState<string | null | undefined>(undefined);
  const more = useAsyncAction();

  const events = first.data === null ? [] : [...first.data.events, ...older];
  const cursor = next === undefined ? (first.data?.next_before ?? null) : next;

  const loadMore = async () => {
    if (cursor === null) return;
    await more.run(async () => {
      const page = await api.auditEvents({ limit: kPageSize, before: cursor });
      setOlder((o) => [...o, ...page.events]);
      setNext(page.next_before);
    });
  };

  return (
    <Card title="Security log" description="What happened to your account, when, and from where.">
      {first.data === null && first.loading && <LoadingNotice>Loading the log…</LoadingNotice>}
      {first.error !== null && (
        <ErrorNotice title="Could not load the log" onRetry={() => void first.reload()}>
          {describeError(first.error)}
        </ErrorNotice>
      )}
      {first.data !== null && events.length === 0 && <p className="text-sm text-slate-600">Nothing yet.</p>}
      {events.length > 0 && (
        <ol aria-label="Security log" className="divide-y divide-slate-200 rounded-md border border-slate-200">
          {events.map((e) => (
            <li key={e.id} className="flex flex-col gap-1 p-3 text-sm sm:flex-row sm:justify-between">
              <div className="min-w-0">
                <p className={e.action.endsWith("failed") ? "font-medium text-red-800" : "font-medium text-slate-900"}>
                  {actionLabel(e.action)}
                  {subject(e) !== "" && <span className="font-normal text-slate-700"> · {subject(e)}</span>}
                  {via(e) !== "" && <span className="font-normal text-slate-500"> ({via(e)})</span>}
                </p>
                <p className="text-xs text-slate-500">
                  {e.client_address || "no address"}
                  {e.user_agent !== "" && <> · {describeUserAgent(e.user_agent)}</>}
                </p>
              </div>
              <time dateTime={e.created_at} className="shrink-0 text-xs text-slate-500">
                {formatDateTime(e.created_at)}
              </time>
            </li>
          ))}
        </ol>
      )}
      {more.error !== null && <ErrorNotice title="Could not load older events">{describeError(more.error)}</ErrorNotice>}
      {cursor !== null && first.data !== null && (
        <div className="mt-3">
          <Button kind="secondary" disabled={more.busy} onClick={() => void loadMore()}>
            {more.busy ? "Loading…" : "Show older events"}
          </Button>
        </div>
      )}
    </Card>
  );
}
