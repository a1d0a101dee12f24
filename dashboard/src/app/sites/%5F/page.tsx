// /sites/<name>/ — exported once as /sites/_/; the server answers every site's URL with it.
"use client";

import { SignedInPage } from "@/components/SignedInPage";
import { SiteFrame } from "@/components/SiteFrame";
import { SiteOverview } from "@/components/SiteOverview";

export default function SiteOverviewPage() {
  return (
    <SignedInPage section="sites">
      <SiteFrame tab="overview">
        {(site, reloadSite) => <SiteOverview site={site} reloadSite={reloadSite} />}
      </SiteFrame>
    </SignedInPage>
  );
}
