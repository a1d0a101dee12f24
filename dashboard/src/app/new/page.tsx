import type { Metadata } from "next";

import { NewSiteForm } from "@/components/NewSiteForm";
import { SignedInPage } from "@/components/SignedInPage";
import { PageTitle } from "@/components/ui";

export const metadata: Metadata = { title: "New site" };

export default function NewSitePage() {
  return (
    <SignedInPage section="sites">
      <PageTitle subtitle="Put a folder of static files online. Connecting a git repository comes next.">
        New site
      </PageTitle>
      <NewSiteForm />
    </SignedInPage>
  );
}
