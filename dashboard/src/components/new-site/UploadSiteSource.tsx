"use client";

// New site by upload: an optional name, then a folder to deploy (drag and drop or "Choose
// folder"), or just the empty site for the command line.

import { useRef, useState } from "react";

import { api } from "@/lib/api/client";
import type { Site } from "@/lib/api/types";
import type { FolderDeployProgress } from "@/lib/folder_deploy";
import { sitePath } from "@/lib/routes";
import { useFormSubmit } from "@/lib/use_form_submit";
import { Button, Card, ErrorNotice, ExternalLink, TextField, linkClass } from "@/components/ui/ui";
import { CliDeployHint } from "./CliDeployHint";
import { FolderDeployPanel } from "./FolderDeployPanel";

type Field = "name";
const kFields: Record<string, Field> = { name: "name" };

export function UploadSiteSource() {
  const [name, setName] = useState("");
  const { busy: creating, errors, submit } = useFormSubmit(kFields);
  const [site, setSite] = useState<Site | null>(null);
  const [deployed, setDeployed] = useState(false);
  const created = useRef<Site | null>(null); // read by the deploy panel's callback

  // Creates the site once; later calls (a retried upload) reuse it.
  const ensureSite = async (): Promise<Site | null> => {
    if (created.current !== null) return created.current;
    await submit(async () => {
      const trimmed = name.trim();
      const fresh = await api.createSite(trimmed === "" ? {} : { name: trimmed });
      created.current = fresh;
      setSite(fresh);
    });
    return created.current;
  };

  const createEmpty = async () => {
    const s = await ensureSite();
    if (s !== null) window.location.assign(sitePath(s.name));
  };

  const onFinished = (p: FolderDeployProgress) => {
    if (p.phase === "ready") setDeployed(true);
  };

  return (
    <div className="space-y-6">
      <Card title="1. Name your site" description="It becomes the site's address. Leave it empty for a random name.">
        {site === null ? (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void createEmpty();
            }}
            noValidate
            className="space-y-4"
          >
            <TextField
              label="Site name"
              name="name"
              value={name}
              onChange={setName}
              error={errors.fields.name}
              placeholder="my-blog"
              hint="Lower-case letters, digits and single hyphens."
            />
            {errors.form !== null && <ErrorNotice title="Could not create the site">{errors.form}</ErrorNotice>}
            <Button type="submit" kind="secondary" disabled={creating}>
              {creating ? "Creating…" : "Create site without deploying"}
            </Button>
          </form>
        ) : (
          <p className="text-sm text-slate-700">
            Site <span className="font-semibold text-slate-900">{site.name}</span> created. Its
            address: <ExternalLink href={site.url}>{site.url}</ExternalLink>
          </p>
        )}
      </Card>

      <Card
        title="2. Deploy a folder"
        description="Drop the folder with your built site (for example dist/ or public/). It goes live as soon as it is uploaded."
      >
        <FolderDeployPanel
          resolveSite={async () => (await ensureSite())?.id ?? null}
          onFinished={onFinished}
        />
        {deployed && site !== null && (
          <p className="mt-4 text-sm">
            <a href={sitePath(site.name)} className={linkClass}>
              Go to the site overview
            </a>
          </p>
        )}
      </Card>

      <Card title="Or deploy from the command line">
        <CliDeployHint site={site?.name ?? name} />
      </Card>
    </div>
  );
}
