import type { Metadata } from "next";

import { ApiTokensCard } from "@/components/ApiTokensCard";
import { CurrentUserCard } from "@/components/CurrentUserCard";
import { GitHubAccountCard } from "@/components/GitHubAccountCard";
import { SignedInPage } from "@/components/SignedInPage";
import { PageTitle } from "@/components/ui";

export const metadata: Metadata = { title: "Account" };

export default function AccountPage() {
  return (
    <SignedInPage section="account">
      <PageTitle>Account</PageTitle>
      <div className="grid gap-6">
        <CurrentUserCard />
        <ApiTokensCard />
        <GitHubAccountCard />
      </div>
    </SignedInPage>
  );
}
