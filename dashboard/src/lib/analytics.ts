// Site analytics as the charts want them: plain arrays per series (uPlot's aligned data), from
// the API's answer. No I/O, no DOM.

import type { SiteAnalytics } from "./api/types";

export interface ChartSeries {
  label: string;
  color: string;
  values: (number | null)[];
}

export interface ChartData {
  xs: number[]; // Unix seconds
  series: ChartSeries[];
  range: [number, number]; // the x axis: the time range asked for (Unix seconds)
}

export function requestsChart(a: SiteAnalytics): ChartData {
  return {
    xs: a.points.map((p) => p.start),
    range: [a.from, a.to],
    series: [{ label: "Requests", color: "#0f766e", values: a.points.map((p) => p.requests) }],
  };
}

export function bandwidthChart(a: SiteAnalytics): ChartData {
  return {
    xs: a.points.map((p) => p.start),
    range: [a.from, a.to],
    series: [{ label: "Bytes sent", color: "#4338ca", values: a.points.map((p) => p.bytes) }],
  };
}

const kStatusColors = { "2xx": "#15803d", "3xx": "#2563eb", "4xx": "#d97706", "5xx": "#dc2626" };

export function statusChart(a: SiteAnalytics): ChartData {
  return {
    xs: a.points.map((p) => p.start),
    range: [a.from, a.to],
    series: (Object.keys(kStatusColors) as (keyof typeof kStatusColors)[]).map((k) => ({
      label: k,
      color: kStatusColors[k],
      values: a.points.map((p) => p.status[k]),
    })),
  };
}

// Build durations in seconds at the time each build ended: one series per outcome (null where
// the build had the other one), so they get their own colours.
export function buildsChart(a: SiteAnalytics): ChartData {
  const xs = a.builds.map((b) => Math.floor(Date.parse(b.finished_at) / 1000));
  const of = (outcome: string) =>
    a.builds.map((b) => (b.outcome === outcome ? b.duration_ms / 1000 : null));
  return {
    xs,
    range: [a.from, a.to],
    series: [
      { label: "Succeeded (s)", color: "#15803d", values: of("succeeded") },
      { label: "Failed (s)", color: "#dc2626", values: of("failed") },
    ],
  };
}

// "1.2 s", "3 min 5 s".
export function formatDuration(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)} min ${whole % 60} s`;
}
