import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { Site } from "@/lib/api/types";
import { saveToken } from "@/lib/session";
import { SkewProtectionCard } from "./SkewProtectionCard";

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

function siteWith(seconds: number): Site {
  return { id: "s1", name: "blog", skew_protection: seconds > 0, skew_protection_max_age: seconds } as Site;
}

afterEach(() => {
  vi.unstubAllGlobals();
  localStorage.clear();
});

describe("SkewProtectionCard", () => {
  it("turns it on with the chosen window, and off again", async () => {
    saveToken("t");
    const calls: { method: string; url: string; body: unknown }[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init: RequestInit) => {
        calls.push({ method: init.method ?? "GET", url, body: JSON.parse(String(init.body)) });
        return json(siteWith(3600));
      }),
    );
    const onChanged = vi.fn(async () => {});
    const { rerender } = render(<SkewProtectionCard site={siteWith(0)} onChanged={onChanged} />);
    expect(screen.getByTestId("skew-state")).toHaveTextContent("Off");

    await userEvent.selectOptions(screen.getByLabelText("Keep earlier deploys for"), "3600");
    await userEvent.click(screen.getByRole("button", { name: "Turn on skew protection" }));
    await waitFor(() => expect(onChanged).toHaveBeenCalled());
    expect(calls[0]).toEqual({ method: "PATCH", url: "/api/v1/sites/s1", body: { skew_protection_max_age: 3600 } });

    rerender(<SkewProtectionCard site={siteWith(3600)} onChanged={onChanged} />);
    expect(screen.getByTestId("skew-state")).toHaveTextContent("1 hour");
    await userEvent.click(screen.getByRole("button", { name: "Turn off" }));
    await waitFor(() => expect(calls).toHaveLength(2));
    expect(calls[1]?.body).toEqual({ skew_protection_max_age: 0 });
  });

  it("shows the API's error", async () => {
    saveToken("t");
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => json({ error: { code: "invalid_skew_protection", message: "out of range" } }, 422)),
    );
    render(<SkewProtectionCard site={siteWith(0)} onChanged={vi.fn(async () => {})} />);
    await userEvent.click(screen.getByRole("button", { name: "Turn on skew protection" }));
    expect(await screen.findByText(/out of range/i)).toBeInTheDocument();
  });
});
