// /sites/<name>/deploys/ — exported once as /sites/_/deploys/ (see ../page.tsx).
"use client";

import { SignedInPage } from "@/components/auth/SignedInPage";
import { DeployList } from "@/components/deploys/DeployList";
import { SiteFrame } from "@/components/sites/SiteFrame";

export default function SiteDeploysPage() {
  return (
    <SignedInPage section="sites">
      <SiteFrame tab="deploys">{(site) => <DeployList site={site} />}</SiteFrame>
    </SignedInPage>
  );
}
