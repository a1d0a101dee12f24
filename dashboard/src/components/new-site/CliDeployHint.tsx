"use client";

// The command-line way to deploy the same folder, ready to copy.

import { useEffect, useState } from "react";

import { CopyableText } from "@/components/ui/ui";

export function CliDeployHint({ site }: { site: string }) {
  const [origin, setOrigin] = useState("http://localhost:8080");
  useEffect(() => setOrigin(window.location.origin), []);
  const name = site.trim() === "" ? "SITE_NAME" : site.trim();
  return (
    <div className="space-y-2 text-sm text-slate-700">
      <p>Log in once, then deploy the folder with your built site:</p>
      <CopyableText text={`replideploy login --api-url ${origin}`} label="Copy login command" />
      <CopyableText text={`replideploy deploy ./dist --site ${name} --prod`} label="Copy deploy command" />
      <p className="text-xs text-slate-500">
        Without <code className="font-mono">--prod</code> the deploy is a draft with its own URL.
        Netlify&apos;s own CLI works too: set <code className="font-mono">NETLIFY_API_URL={origin}</code>.
      </p>
    </div>
  );
}
