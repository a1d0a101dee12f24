"use client";

// Coming back from GitHub's authorization page: the server sends the browser to the page that
// started it with ?github=connected or ?github_error=<message>. Read once, then taken out of the
// address so a reload does not show the notice again.

import { useEffect, useState } from "react";

export interface GitHubReturn {
  connected: boolean;
  error: string | null;
}

export function readGitHubReturn(search: string): GitHubReturn | null {
  const params = new URLSearchParams(search);
  const error = params.get("github_error");
  if (error !== null) return { connected: false, error: error === "" ? "GitHub did not connect" : error };
  if (params.get("github") === "connected") return { connected: true, error: null };
  return null;
}

// The address without the two parameters.
export function withoutGitHubReturn(pathname: string, search: string, hash: string): string {
  const params = new URLSearchParams(search);
  params.delete("github");
  params.delete("github_error");
  const rest = params.toString();
  return pathname + (rest === "" ? "" : `?${rest}`) + hash;
}

export function useGitHubReturn(): GitHubReturn | null {
  const [value, setValue] = useState<GitHubReturn | null>(null);
  useEffect(() => {
    const { pathname, search, hash } = window.location;
    const read = readGitHubReturn(search);
    if (read === null) return;
    setValue(read);
    window.history.replaceState(window.history.state, "", withoutGitHubReturn(pathname, search, hash));
  }, []);
  return value;
}

// A site name from a repository name: "My_Site.io" -> "my-site-io".
export function siteNameFromRepo(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63)
    .replace(/-+$/, "");
}
