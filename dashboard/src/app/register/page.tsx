import type { Metadata } from "next";

import { RegisterForm } from "@/components/auth/RegisterForm";
import { SignedOutPage } from "@/components/auth/SignedOutPage";

export const metadata: Metadata = { title: "Create an account" };

export default function RegisterPage() {
  return (
    <SignedOutPage title="Create an account">
      <RegisterForm />
    </SignedOutPage>
  );
}
