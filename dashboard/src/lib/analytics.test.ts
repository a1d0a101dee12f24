import { describe, expect, it } from "vitest";

import { buildsChart, formatDuration, requestsChart, statusChart } from "./analytics";
import type { SiteAnalytics } from "./api/types";

const status = (n: number) => ({ "1xx": 0, "2xx": n, "3xx": 0, "4xx": 1, "5xx": 0 });

const analytics: SiteAnalytics = {
  range: "hour",
  bucket_seconds: 60,
  from: 600,
  to: 720,
  totals: { requests: 5, bytes: 50, status: status(3) },
  points: [
    { start: 600, requests: 2, bytes: 20, status: status(1) },
    { start: 660, requests: 3, bytes: 30, status: status(2) },
  ],
  top_paths: [],
  other_paths_requests: 0,
  top_404s: [],
  other_404s_requests: 0,
  builds: [
    { deploy_id: "a", outcome: "succeeded", finished_at: "1970-01-01T00:10:00.000Z", duration_ms: 1500 },
    { deploy_id: "b", outcome: "failed", finished_at: "1970-01-01T00:11:00.000Z", duration_ms: 4000 },
  ],
};

describe("analytics charts", () => {
  it("has one x per period and the counts as series", () => {
    expect(requestsChart(analytics)).toEqual({
      xs: [600, 660],
      range: [600, 720],
      series: [{ label: "Requests", color: "#0f766e", values: [2, 3] }],
    });
    const byStatus = statusChart(analytics);
    expect(byStatus.series.map((s) => s.label)).toEqual(["2xx", "3xx", "4xx", "5xx"]);
    expect(byStatus.series[0]!.values).toEqual([1, 2]);
    expect(byStatus.series[2]!.values).toEqual([1, 1]);
  });

  it("puts builds in one series per outcome", () => {
    const builds = buildsChart(analytics);
    expect(builds.xs).toEqual([600, 660]);
    expect(builds.range).toEqual([600, 720]);
    expect(builds.series[0]!.values).toEqual([1.5, null]);
    expect(builds.series[1]!.values).toEqual([null, 4]);
  });

  it("formats durations", () => {
    expect(formatDuration(1500)).toBe("1.5 s");
    expect(formatDuration(42_000)).toBe("42 s");
    expect(formatDuration(185_000)).toBe("3 min 5 s");
  });
});
