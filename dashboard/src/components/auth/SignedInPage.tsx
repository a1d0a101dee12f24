"use client";

// The frame of every page that needs a logged-in user: the header with navigation, and a check
// that a token is kept (without one the user goes to /login and comes back after). Whether the
// token is still good is found out by the first API call: a 401 also leads to /login.

import { useEffect, useState, type ReactNode } from "react";

import { api } from "@/lib/api/client";
import { kLoginPath } from "@/lib/routes";
import { loadToken } from "@/lib/session";
import { LoadingNotice } from "@/components/ui/ui";

type Section = "sites" | "account" | "new";

export function SignedInPage({ section, children }: { section?: Section; children: ReactNode }) {
  const [signedIn, setSignedIn] = useState(false);

  useEffect(() => {
    if (loadToken() === null) {
      const here = window.location.pathname + window.location.search;
      window.location.replace(`${kLoginPath}?next=${encodeURIComponent(here)}`);
      return;
    }
    setSignedIn(true);
  }, []);

  return (
    <div className="min-h-screen bg-slate-50">
      <AppHeader section={section} showNav={signedIn} />
      <main id="main" className="mx-auto w-full max-w-5xl px-4 py-6 sm:px-6 sm:py-8">
        {signedIn ? children : <LoadingNotice />}
      </main>
    </div>
  );
}

function AppHeader({ section, showNav }: { section?: Section; showNav: boolean }) {
  const logOut = async () => {
    await api.logout();
    window.location.assign(kLoginPath);
  };
  const navLink = (href: string, label: string, current: boolean) => (
    <a
      href={href}
      aria-current={current ? "page" : undefined}
      className={`rounded-md px-3 py-2 text-sm font-medium focus-visible:outline-2 focus-visible:outline-teal-300 ${
        current ? "bg-white/15 text-white" : "text-teal-50 hover:bg-white/10"
      }`}
    >
      {label}
    </a>
  );
  return (
    <header className="bg-teal-800 text-white">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:m-2 focus:rounded focus:bg-white focus:px-3 focus:py-2 focus:text-teal-900"
      >
        Skip to content
      </a>
      <div className="mx-auto flex max-w-5xl flex-wrap items-center justify-between gap-2 px-4 py-3 sm:px-6">
        <a href="/" className="text-lg font-bold tracking-tight focus-visible:outline-2 focus-visible:outline-teal-300">
          RepliDeploy
        </a>
        {showNav && (
          <nav aria-label="Main" className="flex flex-wrap items-center gap-1">
            {navLink("/", "Sites", section === "sites")}
            {navLink("/account/", "Account", section === "account")}
            <button
              type="button"
              onClick={() => void logOut()}
              className="rounded-md px-3 py-2 text-sm font-medium text-teal-50 hover:bg-white/10 focus-visible:outline-2 focus-visible:outline-teal-300"
            >
              Log out
            </button>
          </nav>
        )}
      </div>
    </header>
  );
}
