"use client";

// The frame of a site's pages (/sites/<name>/...): reads the name from the address bar, loads
// the site, and shows its name, live URL and the Overview / Deploys / Functions / Analytics tabs.

import { useEffect, useState, type ReactNode } from "react";

import { api } from "@/lib/api/client";
import { ApiError, describeError } from "@/lib/api/errors";
import type { Site } from "@/lib/api/types";
import { displayUrl } from "@/lib/format";
import {
  siteAnalyticsPath,
  siteDeploysPath,
  siteFunctionsPath,
  siteNameFromPath,
  sitePath,
} from "@/lib/routes";
import { useApiData } from "@/lib/use_api_data";
import { ErrorNotice, ExternalLink, LoadingNotice, linkClass } from "@/components/ui/ui";

type Tab = "overview" | "deploys" | "functions" | "analytics";

export function SiteFrame({
  tab,
  children,
}: {
  tab: Tab;
  children: (site: Site, reloadSite: () => Promise<void>) => ReactNode;
}) {
  const [name, setName] = useState<string | null>(null);
  const [missingName, setMissingName] = useState(false);

  useEffect(() => {
    const fromUrl = siteNameFromPath(window.location.pathname);
    if (fromUrl === null) setMissingName(true);
    else setName(fromUrl);
  }, []);

  const site = useApiData(() => api.getSite(name ?? ""), [name], name !== null);

  useEffect(() => {
    if (site.data !== null) document.title = `${site.data.name} · RepliDeploy`;
  }, [site.data]);

  if (missingName) return <SiteNotFound name={null} />;
  if (site.error instanceof ApiError && site.error.status === 404) return <SiteNotFound name={name} />;
  if (site.error !== null && site.data === null) {
    return (
      <ErrorNotice title="Could not load the site" onRetry={() => void site.reload()}>
        {describeError(site.error)}
      </ErrorNotice>
    );
  }
  if (site.data === null) return <LoadingNotice>Loading the site…</LoadingNotice>;

  const s = site.data;
  return (
    <div>
      <p className="mb-2 text-sm">
        <a href="/" className={linkClass}>
          <span aria-hidden="true">← </span>All sites
        </a>
      </p>
      <div className="mb-4">
        <h1 className="text-2xl font-bold tracking-tight break-words text-slate-900">{s.name}</h1>
        <p className="mt-1 text-sm">
          <ExternalLink href={s.url}>{displayUrl(s.url)}</ExternalLink>
        </p>
      </div>
      <SiteTabs name={s.name} current={tab} />
      <div className="mt-6">{children(s, site.reload)}</div>
    </div>
  );
}

function SiteTabs({ name, current }: { name: string; current: Tab }) {
  const tabs: { id: Tab; label: string; href: string }[] = [
    { id: "overview", label: "Overview", href: sitePath(name) },
    { id: "deploys", label: "Deploys", href: siteDeploysPath(name) },
    { id: "functions", label: "Functions", href: siteFunctionsPath(name) },
    { id: "analytics", label: "Analytics", href: siteAnalyticsPath(name) },
  ];
  return (
    <nav aria-label="Site" className="flex flex-wrap gap-x-1 border-b border-slate-200">
      {tabs.map((t) => (
        <a
          key={t.id}
          href={t.href}
          aria-current={t.id === current ? "page" : undefined}
          className={`-mb-px border-b-2 px-2 py-2 text-sm sm:px-4 font-medium focus-visible:outline-2 focus-visible:outline-teal-600 ${
            t.id === current
              ? "border-teal-700 text-teal-800"
              : "border-transparent text-slate-600 hover:border-slate-300 hover:text-slate-900"
          }`}
        >
          {t.label}
        </a>
      ))}
    </nav>
  );
}

function SiteNotFound({ name }: { name: string | null }) {
  return (
    <ErrorNotice title="Site not found">
      {name !== null ? `You have no site named “${name}”.` : "No site is named in the address."}{" "}
      <a href="/" className="underline">
        Back to your sites
      </a>
    </ErrorNotice>
  );
}
