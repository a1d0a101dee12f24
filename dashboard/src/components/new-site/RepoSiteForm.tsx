"use client";

// A new site built from a repository: the chosen GitHub repository (build settings prefilled
// from detection) or any public git URL. Creates the site; the server queues the first build and
// the browser goes to the site's deploys.

import { useEffect, useState, type FormEvent } from "react";

import { api } from "@/lib/api/client";
import { ApiError, describeError } from "@/lib/api/errors";
import type { DetectedSettings, GitHubRepo, NewSiteRepo } from "@/lib/api/types";
import { siteNameFromRepo } from "@/lib/github_return";
import { siteDeploysPath } from "@/lib/routes";
import { useFormSubmit } from "@/lib/use_form_submit";
import { ConnectGitHubButton } from "@/components/account/ConnectGitHubButton";
import { Button, ErrorNotice, InfoNotice, LoadingNotice, TextField } from "@/components/ui/ui";

export type RepoSource = { provider: "github"; repo: GitHubRepo } | { provider: "git" };

type Field = "name" | "repo_url" | "repo_branch" | "base" | "cmd" | "dir" | "functions_dir";
type Values = Record<Field, string>;

const kRepoFields: Field[] = ["repo_url", "repo_branch", "base", "cmd", "dir", "functions_dir"];
// The API names a field plainly, under "repo." or under "build_settings.".
const kApiFields: Record<string, Field> = Object.fromEntries([
  ["name", "name"],
  ["repo_path", "repo_url"],
  ...kRepoFields.flatMap((f) => [
    [f, f],
    [`repo.${f}`, f],
    [`build_settings.${f}`, f],
  ]),
]);

const kBuildFields: { field: Field; label: string; placeholder: string; hint: string }[] = [
  { field: "base", label: "Base directory", placeholder: "(repository root)", hint: "Where the build runs." },
  { field: "cmd", label: "Build command", placeholder: "npm run build", hint: "Leave empty when there is nothing to build." },
  { field: "dir", label: "Publish directory", placeholder: "dist", hint: "The folder the build writes the site to." },
  { field: "functions_dir", label: "Functions directory", placeholder: "netlify/functions", hint: "Optional." },
];

export function RepoSiteForm({
  source,
  onBack,
  returnTo = "/new/",
  navigate = (url: string) => window.location.assign(url),
}: {
  source: RepoSource;
  onBack?: () => void; // "Pick another repository"
  returnTo?: string;
  navigate?: (url: string) => void;
}) {
  const github = source.provider === "github" ? source.repo : null;
  const [values, setValues] = useState<Values>(() => ({
    name: github !== null ? siteNameFromRepo(github.name) : "",
    repo_url: "",
    repo_branch: github?.default_branch ?? "main",
    base: "",
    cmd: "",
    dir: "",
    functions_dir: "",
  }));
  const [detection, setDetection] = useState<
    { phase: "idle" } | { phase: "running" } | { phase: "done"; found: DetectedSettings } | { phase: "failed"; error: unknown }
  >(github !== null ? { phase: "running" } : { phase: "idle" });
  const { busy, errors, formRef, submit: send, setFieldErrors } = useFormSubmit(kApiFields, { leavesPage: true });

  useEffect(() => {
    if (github === null) return;
    let active = true;
    api
      .detectGitHubRepo(github.full_name, github.default_branch)
      .then((found) => {
        if (!active) return;
        setValues((v) => ({ ...v, base: found.base, cmd: found.cmd, dir: found.dir }));
        setDetection({ phase: "done", found });
      })
      .catch((error: unknown) => {
        if (active) setDetection({ phase: "failed", error });
      });
    return () => {
      active = false;
    };
  }, [github]);

  const set = (field: Field) => (value: string) => setValues((v) => ({ ...v, [field]: value }));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (github === null && values.repo_url.trim() === "") {
      setFieldErrors({ repo_url: "Repository URL is required" });
      return;
    }
    const repo: NewSiteRepo = {
      provider: source.provider,
      ...(github !== null ? { repo_path: github.full_name } : { repo_url: values.repo_url.trim() }),
      repo_branch: values.repo_branch.trim(),
      cmd: values.cmd.trim(),
      dir: values.dir.trim(),
      base: values.base.trim(),
      functions_dir: values.functions_dir.trim(),
    };
    const name = values.name.trim();
    await send(async () => {
      const site = await api.createSite(name === "" ? { repo } : { name, repo });
      navigate(siteDeploysPath(site.name));
    });
  };

  return (
    <form ref={formRef} onSubmit={(e) => void submit(e)} noValidate className="space-y-5">
      {github !== null && (
        <div className="flex flex-wrap items-center justify-between gap-2 rounded-md bg-slate-50 p-3">
          <p className="text-sm text-slate-700">
            Repository <span className="font-mono font-semibold break-all text-slate-900">{github.full_name}</span>
          </p>
          {onBack !== undefined && (
            <Button kind="quiet" onClick={onBack}>
              Pick another repository
            </Button>
          )}
        </div>
      )}

      <div className="grid gap-4 sm:grid-cols-2">
        {github === null && (
          <div className="sm:col-span-2">
            <TextField
              label="Repository URL"
              name="repo_url"
              value={values.repo_url}
              onChange={set("repo_url")}
              error={errors.fields.repo_url}
              placeholder="https://github.com/you/site.git"
              hint="A public repository: it is cloned without credentials and checked for new commits every few minutes."
              inputMode="url"
              autoComplete="off"
              required
            />
          </div>
        )}
        <TextField
          label="Site name"
          name="name"
          value={values.name}
          onChange={set("name")}
          error={errors.fields.name}
          placeholder="my-blog"
          hint="Lower-case letters, digits and single hyphens. Empty: a random name."
        />
        <TextField
          label="Production branch"
          name="repo_branch"
          value={values.repo_branch}
          onChange={set("repo_branch")}
          error={errors.fields.repo_branch}
          placeholder="main"
          hint="Pushes to this branch are published."
        />
      </div>

      <fieldset className="space-y-3">
        <legend className="text-sm font-semibold text-slate-900">Build settings</legend>
        <DetectionNotice detection={detection} returnTo={returnTo} />
        {detection.phase !== "running" && (
          <div className="grid gap-4 sm:grid-cols-2">
            {kBuildFields.map(({ field, label, placeholder, hint }) => (
              <TextField
                key={field}
                label={label}
                name={field}
                value={values[field]}
                onChange={set(field)}
                error={errors.fields[field]}
                placeholder={placeholder}
                hint={hint}
              />
            ))}
          </div>
        )}
      </fieldset>

      {errors.form !== null && <ErrorNotice title="Could not create the site">{errors.form}</ErrorNotice>}
      <Button type="submit" disabled={busy || detection.phase === "running"}>
        {busy ? "Creating…" : "Create site and deploy"}
      </Button>
    </form>
  );
}

// The server names frameworks by id (builder/detect.cpp); unknown ids are shown as they come.
const kFrameworkNames = new Map<string, string>([
  ["next", "Next.js"],
  ["astro", "Astro"],
  ["sveltekit", "SvelteKit"],
  ["gatsby", "Gatsby"],
  ["docusaurus", "Docusaurus"],
  ["eleventy", "Eleventy"],
  ["create-react-app", "Create React App"],
  ["vite", "Vite"],
  ["hugo", "Hugo"],
  ["node", "a Node.js project"],
  ["static", "a static site"],
]);

export function frameworkName(id: string): string {
  return kFrameworkNames.get(id) ?? id;
}

function DetectionNotice({
  detection,
  returnTo,
}: {
  detection:
    | { phase: "idle" }
    | { phase: "running" }
    | { phase: "done"; found: DetectedSettings }
    | { phase: "failed"; error: unknown };
  returnTo: string;
}) {
  if (detection.phase === "idle") {
    return (
      <p className="text-xs text-slate-500">
        Empty fields are detected at build time (package.json, framework) or read from the
        repository&apos;s <code className="font-mono">netlify.toml</code>.
      </p>
    );
  }
  if (detection.phase === "running") return <LoadingNotice>Looking at the repository…</LoadingNotice>;
  if (detection.phase === "failed") {
    const reconnect = detection.error instanceof ApiError && detection.error.code === "github_reconnect";
    return (
      <InfoNotice title="Could not detect the build settings">
        <p>{describeError(detection.error)}</p>
        <p className="mt-1">Fill them in yourself, or leave them empty to detect them at build time.</p>
        {reconnect && (
          <div className="mt-2">
            <ConnectGitHubButton returnTo={returnTo} label="Reconnect GitHub" kind="secondary" />
          </div>
        )}
      </InfoNotice>
    );
  }
  const { framework, package_manager } = detection.found;
  return (
    <p className="text-sm text-slate-700" role="status">
      {framework
        ? `Detected ${frameworkName(framework)}${package_manager ? ` (${package_manager})` : ""}. Change anything that is not right.`
        : "No framework detected. Fill in the build command and publish directory, or leave them empty."}
    </p>
  );
}
