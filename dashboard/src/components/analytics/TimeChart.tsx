"use client";

// A time-series chart drawn by uPlot (a small canvas chart library) on a canvas that follows
// its container's width. The numbers behind it are also on the page as text (totals, tables).

import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

import type { ChartData } from "@/lib/analytics";

export function TimeChart({
  title,
  data,
  pointsOnly = false,
  formatValue,
}: {
  title: string;
  data: ChartData;
  pointsOnly?: boolean; // builds: one dot each, no line
  formatValue?: (value: number) => string;
}) {
  const container = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = container.current;
    if (el === null) return;
    const width = () => Math.max(200, el.clientWidth);
    const options: uPlot.Options = {
      width: width(),
      height: 180,
      scales: { x: { time: true, range: data.range } },
      legend: { show: data.series.length > 1 },
      series: [
        {},
        ...data.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          spanGaps: false,
          ...(pointsOnly
            ? { paths: () => null, points: { show: true, size: 8, fill: s.color } }
            : { fill: `${s.color}22` }),
        })),
      ],
      axes: [
        {},
        {
          size: 60,
          values: (_u: uPlot, ticks: number[]) =>
            ticks.map((t) => (formatValue !== undefined ? formatValue(t) : String(t))),
        },
      ],
    };
    const plot = new uPlot(
      options,
      [data.xs, ...data.series.map((s) => s.values)] as uPlot.AlignedData,
      el,
    );
    const observer = new ResizeObserver(() => plot.setSize({ width: width(), height: 180 }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [data, pointsOnly, formatValue]);

  return (
    <figure className="min-w-0">
      <figcaption className="mb-2 text-sm font-semibold text-slate-800">{title}</figcaption>
      <div ref={container} role="img" aria-label={`Chart: ${title}`} data-chart={title} />
    </figure>
  );
}
