"use client";

// The user's login sessions: where and when each signed in and was last seen; end any other,
// or sign out of this one.

import { useState } from "react";

import { api } from "@/lib/api/client";
import { describeError } from "@/lib/api/errors";
import type { LoginSessionInfo } from "@/lib/api/types";
import { kLoginPath } from "@/lib/routes";
import { formatAge, formatDateTime } from "@/lib/format";
import { useApiData } from "@/lib/use_api_data";
import { useAsyncAction } from "@/lib/use_form_submit";
import { Button, Card, ErrorNotice, LoadingNotice } from "@/components/ui/ui";

// A short name for a browser from its User-Agent ("Firefox on Linux"); the raw string otherwise.
export function describeUserAgent(ua: string): string {
  if (ua === "") return "Unknown client";
  const browser = /Edg\//.test(ua)
    ? "Edge"
    : /Firefox\//.test(ua)
      ? "Firefox"
      : /Chrome\/|Chromium\//.test(ua)
        ? "Chrome"
        : /Safari\//.test(ua)
          ? "Safari"
          : null;
  const os = /Windows/.test(ua)
    ? "Windows"
    : /Android/.test(ua)
      ? "Android"
      : /iPhone|iPad/.test(ua)
        ? "iOS"
        : /Mac OS X/.test(ua)
          ? "macOS"
          : /Linux/.test(ua)
            ? "Linux"
            : null;
  if (browser === null) return ua.length > 60 ? ua.slice(0, 57) + "…" : ua;
  return os === null ? browser : `${browser} on ${os}`;
}

export function SessionsCard({
  navigate = (url: string) => window.location.assign(url),
}: {
  navigate?: (url: string) => void;
}) {
  const sessions = useApiData(() => api.listSessions(), []);
  const action = useAsyncAction();
  const [ending, setEnding] = useState<string | null>(null);

  const end = async (s: LoginSessionInfo) => {
    setEnding(s.id);
    if (s.current) {
      await action.run(() => api.logout());
      navigate(kLoginPath);
      return;
    }
    await action.run(async () => {
      await api.endSession(s.id);
      await sessions.reload();
    });
    setEnding(null);
  };

  return (
    <Card title="Sessions" description="Every browser signed in to your account. End the ones you do not recognise.">
      {sessions.data === null && sessions.loading && <LoadingNotice>Loading sessions…</LoadingNotice>}
      {sessions.error !== null && (
        <ErrorNotice title="Could not load your sessions" onRetry={() => void sessions.reload()}>
          {describeError(sessions.error)}
        </ErrorNotice>
      )}
      {action.error !== null && <ErrorNotice title="Could not end the session">{describeError(action.error)}</ErrorNotice>}
      {sessions.data !== null && (
        <ul aria-label="Sessions" className="divide-y divide-slate-200 rounded-md border border-slate-200">
          {sessions.data.map((s) => (
            <li key={s.id} className="flex flex-col gap-2 p-3 sm:flex-row sm:items-center sm:justify-between">
              <div className="min-w-0">
                <p className="font-medium text-slate-900" title={s.user_agent}>
                  {describeUserAgent(s.user_agent)}
                  {s.current && (
                    <span className="ml-2 rounded bg-teal-100 px-1.5 py-0.5 text-xs font-medium text-teal-900">
                      This browser
                    </span>
                  )}
                </p>
                <p className="text-xs text-slate-500">
                  {s.client_address || "unknown address"} · signed in{" "}
                  <time dateTime={s.created_at} title={formatDateTime(s.created_at)}>
                    {formatAge(s.created_at)}
                  </time>
                  {" · "}last seen{" "}
                  <time dateTime={s.last_seen_at} title={formatDateTime(s.last_seen_at)}>
                    {formatAge(s.last_seen_at)}
                  </time>
                </p>
              </div>
              <Button
                kind="secondary"
                disabled={action.busy && ending === s.id}
                onClick={() => void end(s)}
                aria-label={s.current ? "Sign out of this browser" : `End session ${describeUserAgent(s.user_agent)} from ${s.client_address}`}
              >
                {s.current ? "Sign out" : "End session"}
              </Button>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}
