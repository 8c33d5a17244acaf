"use client";
import dynamic from "next/dynamic";

/** The chart without Recharts in the page's first load; the placeholder keeps the height. */
const LazyTimeChart = dynamic(() => import("./TimeChart"), {
  ssr: false,
  loading: () => <div style={{ height: 220 }} aria-hidden="true" />,
});

export default LazyTimeChart;
