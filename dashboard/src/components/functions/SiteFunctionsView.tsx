"use client";

// A site's Functions tab: the published deploy's functions with their routes, runtime, size and
// the last hour's calls, errors and p50/p99 duration; picking one shows its live log (what it
// printed, secrets masked, and the platform's lines about failed calls).

import { useEffect, useState } from "react";

import { api } from "@/lib/api/client";
import { describeError } from "@/lib/api/errors";
import type { FunctionLogLine, LogLine, Site, SiteFunction } from "@/lib/api/types";
import {
  functionLogStreamUrl,
  openDeployLogStream,
  type LogStreamStatus,
} from "@/lib/deploy_log_stream";
import { downloadTextFile } from "@/lib/download";
import { formatBytes } from "@/lib/format";
import { useApiData } from "@/lib/use_api_data";
import { DeployLogView } from "@/components/deploys/DeployLogView";
import { Button, Card, EmptyState, ErrorNotice, LoadingNotice } from "@/components/ui/ui";

export function SiteFunctionsView({ site }: { site: Site }) {
  const data = useApiData(() => api.getSiteFunctions(site.name), [site.name]);
  const [selected, setSelected] = useState<string | null>(null);

  if (data.error !== null && data.data === null) {
    return (
      <ErrorNotice title="Could not load the functions" onRetry={() => void data.reload()}>
        {describeError(data.error)}
      </ErrorNotice>
    );
  }
  if (data.data === null) return <LoadingNotice>Loading the functions…</LoadingNotice>;
  const fns = data.data.functions;
  if (fns.length === 0) {
    return (
      <EmptyState title="No functions">
        {data.data.deploy_id === null
          ? "Nothing is published yet."
          : "The published deploy has no functions. Put them in netlify/functions/."}
      </EmptyState>
    );
  }
  const current = selected ?? fns[0]!.name;
  return (
    <div className="space-y-6">
      <Card
        title="Functions"
        description="Calls over the last hour, in the published deploy."
        actions={
          <Button kind="secondary" onClick={() => void data.reload()}>
            Refresh
          </Button>
        }
      >
        <FunctionTable functions={fns} selected={current} onSelect={setSelected} />
      </Card>
      <FunctionLogPanel key={current} site={site.name} name={current} />
    </div>
  );
}

function FunctionTable({
  functions,
  selected,
  onSelect,
}: {
  functions: SiteFunction[];
  selected: string;
  onSelect: (name: string) => void;
}) {
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-left text-sm" aria-label="Functions">
        <thead className="text-slate-600">
          <tr>
            <th className="py-2 pr-4 font-medium">Name</th>
            <th className="py-2 pr-4 font-medium">Routes</th>
            <th className="py-2 pr-4 font-medium">Runtime</th>
            <th className="py-2 pr-4 text-right font-medium">Size</th>
            <th className="py-2 pr-4 text-right font-medium">Calls</th>
            <th className="py-2 pr-4 text-right font-medium">Errors</th>
            <th className="py-2 pr-4 text-right font-medium">p50 / p99</th>
          </tr>
        </thead>
        <tbody>
          {functions.map((f) => (
            <tr
              key={f.name}
              className={`border-t border-slate-100 ${f.name === selected ? "bg-teal-50" : ""}`}
            >
              <td className="py-2 pr-4">
                <button
                  type="button"
                  aria-pressed={f.name === selected}
                  onClick={() => onSelect(f.name)}
                  className="font-mono font-medium text-teal-800 underline decoration-teal-800/30 underline-offset-2 hover:decoration-teal-800 focus-visible:outline-2 focus-visible:outline-teal-600"
                >
                  {f.name}
                </button>
              </td>
              <td className="py-2 pr-4 font-mono text-xs text-slate-700">
                {f.routes.join(", ")}
              </td>
              <td className="py-2 pr-4">{f.runtime}</td>
              <td className="py-2 pr-4 text-right">{formatBytes(f.size)}</td>
              <td className="py-2 pr-4 text-right" data-testid={`calls-${f.name}`}>
                {f.invocations}
              </td>
              <td
                className={`py-2 pr-4 text-right ${f.errors > 0 ? "font-semibold text-red-700" : ""}`}
              >
                {f.errors}
              </td>
              <td className="py-2 pr-4 text-right whitespace-nowrap">
                {f.invocations === 0 ? "–" : `≤ ${f.p50_ms} ms / ≤ ${f.p99_ms} ms`}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const kStatusText: Record<LogStreamStatus, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  ended: "Ended",
  unauthenticated: "Not signed in",
  not_found: "Function not found",
  failed: "The live log is not available",
};

function FunctionLogPanel({ site, name }: { site: string; name: string }) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [status, setStatus] = useState<LogStreamStatus>("connecting");

  useEffect(() => {
    const stream = openDeployLogStream({
      deployId: "",
      url: functionLogStreamUrl(site, name),
      onLines: (fresh) => setLines((old) => [...old, ...fresh]),
      onStatus: setStatus,
    });
    return () => stream.close();
  }, [site, name]);

  const download = () => {
    const text = lines
      .map((l) => `${l.ts} ${l.stream} ${(l as FunctionLogLine).request_id ?? ""} ${l.line}`)
      .join("\n");
    downloadTextFile(`${site}-${name}.log`, text + "\n");
  };

  return (
    <Card
      title={`Function log: ${name}`}
      description="What the function printed (secrets masked) and the platform's lines about its calls."
      actions={
        <span className="text-sm text-slate-600" data-testid="function-log-status">
          {kStatusText[status]}
        </span>
      }
    >
      <DeployLogView
        lines={lines}
        live={status === "live"}
        onDownload={download}
        label={`Log of ${name}`}
        empty="No lines yet: call the function and its output appears here."
      />
    </Card>
  );
}
