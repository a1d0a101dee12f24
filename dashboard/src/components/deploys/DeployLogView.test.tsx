import { fireEvent, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import type { LogLine } from "@/lib/api/types";
import { DeployLogView } from "./DeployLogView";

const E = "\u001b";

function lines(from: number, to: number, text = (n: number) => `step ${n}`): LogLine[] {
  const out: LogLine[] = [];
  for (let n = from; n < to; n++) {
    out.push({ n, ts: "2026-11-25T10:00:00.000Z", stream: "stdout", line: text(n) });
  }
  return out;
}

function view(list: LogLine[], live = true, onDownload = () => {}) {
  return <DeployLogView lines={list} live={live} onDownload={onDownload} empty="Nothing yet" />;
}

// jsdom does no layout: give the scroller a size, and let the test set where it is scrolled to.
function sizeScroller(scrollHeight: () => number, clientHeight = 200) {
  const el = screen.getByTestId("log-scroller");
  Object.defineProperty(el, "scrollHeight", { configurable: true, get: scrollHeight });
  Object.defineProperty(el, "clientHeight", { configurable: true, get: () => clientHeight });
  return el;
}

function rowTexts(): string[] {
  return screen.getAllByRole("listitem").map((li) => li.textContent ?? "");
}

describe("DeployLogView", () => {
  it("numbers the lines from 1 and renders colours as styles, never as markup", () => {
    const { container } = render(
      view([
        { n: 0, ts: "t", stream: "info", line: "Cloning" },
        { n: 1, ts: "t", stream: "stdout", line: `${E}[31m<b>red</b>${E}[39m plain` },
        { n: 2, ts: "t", stream: "stdout", line: `${E}[1;38;2;1;2;3mrgb${E}[0m` },
      ]),
    );
    expect(screen.getAllByTestId("log-line-number").map((e) => e.textContent)).toEqual(["1", "2", "3"]);
    expect(rowTexts()).toEqual(["1Cloning", "2<b>red</b> plain", "3rgb"]);
    expect(container.querySelector("li b")).toBeNull(); // the text stayed text
    const red = screen.getByText("<b>red</b>");
    expect(red.style.color).not.toBe("");
    const rgb = screen.getByText("rgb");
    expect(rgb.style.color).toBe("rgb(1, 2, 3)");
    expect(rgb).toHaveClass("font-bold");
    expect(container.textContent).not.toContain(E);
    expect(document.getElementById("L3")).not.toBeNull(); // a line can be linked to
  });

  it("says so when there are no lines", () => {
    render(view([]));
    expect(screen.getByText("Nothing yet")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Download log" })).toBeDisabled();
  });

  it("highlights matches, counts them, and can show only the matching lines", async () => {
    render(view(lines(0, 5, (n) => (n % 2 === 0 ? `${E}[33mWARN${E}[39m deprecated ${n}` : `ok ${n}`))));
    await userEvent.type(screen.getByLabelText("Search the log"), "warn dep");
    expect(screen.getByTestId("log-search-summary")).toHaveTextContent("3 matches in 3 lines");
    const marks = document.querySelectorAll("mark");
    expect([...marks].map((m) => m.textContent).join("|")).toBe("WARN| dep|WARN| dep|WARN| dep"); // one match over two colours
    expect(screen.getAllByRole("listitem")).toHaveLength(5);

    await userEvent.click(screen.getByLabelText("Only matching lines"));
    expect(screen.getAllByTestId("log-line-number").map((e) => e.textContent)).toEqual(["1", "3", "5"]);

    await userEvent.clear(screen.getByLabelText("Search the log"));
    await userEvent.type(screen.getByLabelText("Search the log"), "nothing like it");
    expect(screen.getByTestId("log-search-summary")).toHaveTextContent("No match for “nothing like it”");
    expect(screen.queryAllByRole("listitem")).toHaveLength(0);
  });

  it("follows new lines, stops when the user scrolls up, and resumes at the end", () => {
    let height = 1000;
    const { rerender } = render(view(lines(0, 50)));
    const el = sizeScroller(() => height);

    height = 1100;
    rerender(view(lines(0, 55)));
    expect(el.scrollTop).toBe(1100); // following

    el.scrollTop = 300; // the user scrolls up to read
    fireEvent.scroll(el);
    height = 1200;
    rerender(view(lines(0, 60)));
    expect(el.scrollTop).toBe(300); // left where the user is
    expect(screen.getByRole("button", { name: "Follow the log" })).toBeInTheDocument();

    el.scrollTop = 1200 - 200; // back at the end
    fireEvent.scroll(el);
    expect(screen.queryByRole("button", { name: "Follow the log" })).toBeNull();
    height = 1300;
    rerender(view(lines(0, 65)));
    expect(el.scrollTop).toBe(1300); // following again

    el.scrollTop = 0;
    fireEvent.scroll(el);
    height = 1400;
    rerender(view(lines(0, 70)));
    expect(el.scrollTop).toBe(0);
    fireEvent.click(screen.getByRole("button", { name: "Follow the log" }));
    expect(el.scrollTop).toBe(1400);
  });

  it("offers 'Jump to the end' instead of following when the build is done", () => {
    render(view(lines(0, 50), false));
    const el = sizeScroller(() => 1000);
    el.scrollTop = 0;
    fireEvent.scroll(el);
    expect(screen.getByRole("button", { name: "Jump to the end" })).toBeInTheDocument();
  });

  it("Download calls back", async () => {
    const onDownload = vi.fn();
    render(view(lines(0, 2), false, onDownload));
    await userEvent.click(screen.getByRole("button", { name: "Download log" }));
    expect(onDownload).toHaveBeenCalledOnce();
    expect(within(screen.getByRole("region", { name: "Build log" })).getAllByRole("listitem")).toHaveLength(2);
  });
});
