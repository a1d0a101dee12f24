// Words and numbers as the dashboard shows them.

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

// "just now", "5 minutes ago", "3 days ago"; `now` is for tests.
export function formatAge(iso: string, now: number = Date.now()): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "";
  const seconds = Math.max(0, Math.round((now - then) / 1000));
  if (seconds < 45) return "just now";
  const steps: [number, string][] = [
    [60, "minute"],
    [60 * 60, "hour"],
    [60 * 60 * 24, "day"],
    [60 * 60 * 24 * 30, "month"],
    [60 * 60 * 24 * 365, "year"],
  ];
  let chosen: [number, string] = steps[0]!;
  for (const step of steps) if (seconds >= step[0] * 0.75) chosen = step;
  const n = Math.max(1, Math.round(seconds / chosen[0]));
  return `${n} ${chosen[1]}${n === 1 ? "" : "s"} ago`;
}

// Full local date and time, for a tooltip or a <time> title.
export function formatDateTime(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toLocaleString();
}

const kContextLabels: Record<string, string> = {
  production: "Production",
  "branch-deploy": "Branch deploy",
  "deploy-preview": "Deploy preview",
  draft: "Draft",
};

export function contextLabel(context: string): string {
  return kContextLabels[context] ?? context;
}

const kSourceLabels: Record<string, string> = {
  dashboard: "Uploaded in the dashboard",
  cli: "Deployed from the command line",
  api: "Deployed through the API",
  git: "Built from the repository",
};

// What a deploy without a title is called: how it was made.
export function deploySourceLabel(source: string): string {
  return kSourceLabels[source] ?? "Deploy";
}

// "http://my-blog.localhost:8080" -> "my-blog.localhost:8080"
export function displayUrl(url: string): string {
  return url.replace(/^https?:\/\//, "").replace(/\/$/, "");
}

// A build's duration: "45s", "1m 05s", "1h 02m".
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

// The first 7 characters of a commit SHA, as git shows it.
export function shortSha(sha: string): string {
  return sha.slice(0, 7);
}

// The first line of a commit message.
export function firstLine(text: string): string {
  const nl = text.indexOf("\n");
  return (nl < 0 ? text : text.slice(0, nl)).trim();
}
