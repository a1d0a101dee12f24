// /sites/<name>/functions/ — exported once as /sites/_/functions/.
"use client";

import { SignedInPage } from "@/components/auth/SignedInPage";
import { SiteFunctionsView } from "@/components/functions/SiteFunctionsView";
import { SiteFrame } from "@/components/sites/SiteFrame";

export default function SiteFunctionsPage() {
  return (
    <SignedInPage section="sites">
      <SiteFrame tab="functions">{(site) => <SiteFunctionsView site={site} />}</SiteFrame>
    </SignedInPage>
  );
}
