import type { Metadata } from "next";

import { ApiTokensCard } from "@/components/account/ApiTokensCard";
import { AuditLogCard } from "@/components/account/AuditLogCard";
import { ChangePasswordForm } from "@/components/account/ChangePasswordForm";
import { GitHubAccountCard } from "@/components/account/GitHubAccountCard";
import { InvitesCard } from "@/components/account/InvitesCard";
import { SessionsCard } from "@/components/account/SessionsCard";
import { CurrentUserCard } from "@/components/auth/CurrentUserCard";
import { SignedInPage } from "@/components/auth/SignedInPage";
import { PageTitle } from "@/components/ui/ui";

export const metadata: Metadata = { title: "Account" };

export default function AccountPage() {
  return (
    <SignedInPage section="account">
      <PageTitle>Account</PageTitle>
      <div className="grid gap-6">
        <CurrentUserCard />
        <ChangePasswordForm />
        <SessionsCard />
        <ApiTokensCard />
        <GitHubAccountCard />
        <InvitesCard />
        <AuditLogCard />
      </div>
    </SignedInPage>
  );
}
