import type { Metadata } from "next";

import { SignedInPage } from "@/components/auth/SignedInPage";
import { NewSiteForm } from "@/components/new-site/NewSiteForm";
import { PageTitle } from "@/components/ui/ui";

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
