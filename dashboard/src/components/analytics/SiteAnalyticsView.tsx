"use client";

// A site's Analytics tab: requests, bandwidth and status classes over the last hour, day or
// week, the top paths and 404s, and the builds' durations and outcomes.

import { useMemo, useState } from "react";

import {
  bandwidthChart,
  buildsChart,
  formatDuration,
  requestsChart,
  statusChart,
} from "@/lib/analytics";
import { api } from "@/lib/api/client";
import { describeError } from "@/lib/api/errors";
import type { AnalyticsRange, PathRequests, Site, SiteAnalytics } from "@/lib/api/types";
import { formatBytes, formatDateTime } from "@/lib/format";
import { useApiData } from "@/lib/use_api_data";
import { Button, Card, EmptyState, ErrorNotice, LoadingNotice } from "@/components/ui/ui";

import { TimeChart } from "./TimeChart";

const kRanges: { id: AnalyticsRange; label: string }[] = [
  { id: "hour", label: "Last hour" },
  { id: "day", label: "Last day" },
  { id: "week", label: "Last week" },
];

export function SiteAnalyticsView({ site }: { site: Site }) {
  const [range, setRange] = useState<AnalyticsRange>("hour");
  const data = useApiData(() => api.getSiteAnalytics(site.name, range), [site.name, range]);

  return (
    <div className="space-y-6">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <div role="group" aria-label="Time range" className="flex gap-2">
          {kRanges.map((r) => (
            <button
              key={r.id}
              type="button"
              aria-pressed={r.id === range}
              onClick={() => setRange(r.id)}
              className={`rounded-md border px-3 py-1.5 text-sm font-medium focus-visible:outline-2 focus-visible:outline-teal-600 ${
                r.id === range
                  ? "border-teal-700 bg-teal-50 text-teal-900"
                  : "border-slate-300 bg-white text-slate-700 hover:border-slate-400"
              }`}
            >
              {r.label}
            </button>
          ))}
        </div>
        <Button kind="secondary" onClick={() => void data.reload()}>
          Refresh
        </Button>
      </div>
      {data.error !== null && data.data === null ? (
        <ErrorNotice title="Could not load the analytics" onRetry={() => void data.reload()}>
          {describeError(data.error)}
        </ErrorNotice>
      ) : data.data === null ? (
        <LoadingNotice>Loading the analytics…</LoadingNotice>
      ) : (
        <AnalyticsPanels analytics={data.data} />
      )}
    </div>
  );
}

function AnalyticsPanels({ analytics: a }: { analytics: SiteAnalytics }) {
  const charts = useMemo(
    () => ({
      requests: requestsChart(a),
      bandwidth: bandwidthChart(a),
      status: statusChart(a),
      builds: buildsChart(a),
    }),
    [a],
  );
  const succeeded = a.builds.filter((b) => b.outcome === "succeeded").length;
  return (
    <>
      <dl className="grid grid-cols-2 gap-3 sm:grid-cols-4" aria-label="Totals">
        <Total label="Requests" value={a.totals.requests.toLocaleString()} />
        <Total label="Bandwidth" value={formatBytes(a.totals.bytes)} />
        <Total label="2xx" value={a.totals.status["2xx"].toLocaleString()} />
        <Total label="3xx" value={a.totals.status["3xx"].toLocaleString()} />
        <Total label="4xx" value={a.totals.status["4xx"].toLocaleString()} />
        <Total label="5xx" value={a.totals.status["5xx"].toLocaleString()} />
        <Total label="Builds succeeded" value={String(succeeded)} />
        <Total label="Builds failed" value={String(a.builds.length - succeeded)} />
      </dl>
      <Card title="Traffic">
        <div className="grid gap-6 lg:grid-cols-2">
          <TimeChart title="Requests" data={charts.requests} />
          <TimeChart title="Bandwidth" data={charts.bandwidth} formatValue={formatBytes} />
          <TimeChart title="Status classes" data={charts.status} />
        </div>
      </Card>
      <div className="grid gap-6 lg:grid-cols-2">
        <PathsCard title="Top paths" paths={a.top_paths} other={a.other_paths_requests} />
        <PathsCard title="Top 404s" paths={a.top_404s} other={a.other_404s_requests} />
      </div>
      <Card title="Builds" description="How long each build took, and how it ended.">
        {a.builds.length === 0 ? (
          <EmptyState title="No builds in this time range" />
        ) : (
          <>
            <TimeChart title="Build durations" data={charts.builds} pointsOnly />
            <table className="mt-4 w-full text-left text-sm">
              <thead>
                <tr className="text-slate-600">
                  <th className="py-1 font-medium">Finished</th>
                  <th className="py-1 font-medium">Outcome</th>
                  <th className="py-1 text-right font-medium">Duration</th>
                </tr>
              </thead>
              <tbody>
                {[...a.builds].reverse().map((b) => (
                  <tr key={`${b.deploy_id}-${b.finished_at}`} className="border-t border-slate-100">
                    <td className="py-1">{formatDateTime(b.finished_at)}</td>
                    <td className={`py-1 ${b.outcome === "failed" ? "text-red-700" : "text-green-800"}`}>
                      {b.outcome === "failed" ? "Failed" : "Succeeded"}
                    </td>
                    <td className="py-1 text-right tabular-nums">{formatDuration(b.duration_ms)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </Card>
    </>
  );
}

function Total({ label, value }: { label: string; value: string }) {
  return (
    <div className="rounded-lg border border-slate-200 bg-white p-3 shadow-sm">
      <dt className="text-xs font-medium text-slate-600">{label}</dt>
      <dd className="mt-1 text-xl font-semibold tabular-nums text-slate-900" data-total={label}>
        {value}
      </dd>
    </div>
  );
}

function PathsCard({ title, paths, other }: { title: string; paths: PathRequests[]; other: number }) {
  const max = Math.max(1, ...paths.map((p) => p.requests), other);
  return (
    <Card title={title}>
      {paths.length === 0 && other === 0 ? (
        <EmptyState title="Nothing in this time range" />
      ) : (
        <table className="w-full table-fixed text-left text-sm" aria-label={title}>
          <thead>
            <tr className="text-slate-600">
              <th className="py-1 font-medium">Path</th>
              <th className="w-24 py-1 text-right font-medium">Requests</th>
            </tr>
          </thead>
          <tbody>
            {paths.map((p) => (
              <PathRow key={p.path} path={p.path} requests={p.requests} max={max} />
            ))}
            {other > 0 && <PathRow path="(other paths)" requests={other} max={max} muted />}
          </tbody>
        </table>
      )}
    </Card>
  );
}

function PathRow({
  path,
  requests,
  max,
  muted = false,
}: {
  path: string;
  requests: number;
  max: number;
  muted?: boolean;
}) {
  return (
    <tr className="border-t border-slate-100">
      <td className="relative py-1 pr-2">
        <span
          aria-hidden="true"
          className="absolute inset-y-1 left-0 rounded bg-teal-100"
          style={{ width: `${(100 * requests) / max}%` }}
        />
        <span className={`relative block truncate font-mono ${muted ? "text-slate-500" : ""}`} title={path}>
          {path}
        </span>
      </td>
      <td className="py-1 text-right tabular-nums">{requests.toLocaleString()}</td>
    </tr>
  );
}
