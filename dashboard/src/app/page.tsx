import type { Metadata } from "next";

import { SignedInPage } from "@/components/auth/SignedInPage";
import { SiteList } from "@/components/sites/SiteList";

export const metadata: Metadata = { title: "Sites" };

export default function SitesPage() {
  return (
    <SignedInPage section="sites">
      <SiteList />
    </SignedInPage>
  );
}
