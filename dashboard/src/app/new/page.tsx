import type { Metadata } from "next";

import { NewSiteForm } from "@/components/NewSiteForm";
import { SignedInPage } from "@/components/SignedInPage";
import { PageTitle } from "@/components/ui";

export const metadata: Metadata = { title: "New site" };

export default function NewSitePage() {
  return (
    <SignedInPage section="sites">
      <PageTitle subtitle="Build it from a repository, push it with git, or upload a folder.">
        New site
      </PageTitle>
      <NewSiteForm />
    </SignedInPage>
  );
}
