// /sites/<name>/ — exported once as /sites/_/; the server answers every site's URL with it.
"use client";

import { SignedInPage } from "@/components/auth/SignedInPage";
import { SiteFrame } from "@/components/sites/SiteFrame";
import { SiteOverview } from "@/components/sites/SiteOverview";

export default function SiteOverviewPage() {
  return (
    <SignedInPage section="sites">
      <SiteFrame tab="overview">
        {(site, reloadSite) => <SiteOverview site={site} reloadSite={reloadSite} />}
      </SiteFrame>
    </SignedInPage>
  );
}
