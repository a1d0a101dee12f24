// /sites/<name>/analytics/ — exported once as /sites/_/analytics/.
"use client";

import { SignedInPage } from "@/components/auth/SignedInPage";
import { SiteAnalyticsView } from "@/components/analytics/SiteAnalyticsView";
import { SiteFrame } from "@/components/sites/SiteFrame";

export default function SiteAnalyticsPage() {
  return (
    <SignedInPage section="sites">
      <SiteFrame tab="analytics">{(site) => <SiteAnalyticsView site={site} />}</SiteFrame>
    </SignedInPage>
  );
}
