// /sites/<name>/deploys/<id>/ — exported once as /sites/_/deploys/_/; the server answers every
// deploy's URL with it (each path segment that names nothing in the export becomes "_").
"use client";

import { SignedInPage } from "@/components/auth/SignedInPage";
import { DeployDetail } from "@/components/deploys/DeployDetail";
import { SiteFrame } from "@/components/sites/SiteFrame";

export default function DeployPage() {
  return (
    <SignedInPage section="sites">
      <SiteFrame tab="deploys">{(site) => <DeployDetail site={site} />}</SiteFrame>
    </SignedInPage>
  );
}
