import type { Metadata } from "next";

import { LoginForm } from "@/components/auth/LoginForm";
import { SignedOutPage } from "@/components/auth/SignedOutPage";

export const metadata: Metadata = { title: "Log in" };

export default function LoginPage() {
  return (
    <SignedOutPage title="Log in">
      <LoginForm />
    </SignedOutPage>
  );
}
