// The frame of the login and register pages: the name of the product and one card.

import type { ReactNode } from "react";

export function SignedOutPage({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div className="flex min-h-screen flex-col items-center bg-slate-50 px-4 py-10 sm:py-16">
      <p className="mb-6 text-2xl font-bold tracking-tight text-teal-800">RepliDeploy</p>
      <main className="w-full max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
        <h1 className="mb-4 text-xl font-semibold text-slate-900">{title}</h1>
        {children}
      </main>
    </div>
  );
}
