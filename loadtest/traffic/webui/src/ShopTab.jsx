// The Shop tab: what the shop feels, next to locust's load. Polls /shop/series (the master reads
// every replica's /metrics about once a second) and charts lock waits, pool pressure, errors
// and rejections by class, event-loop lag and the incident switches that are on.
import { useEffect, useRef, useState } from "react";
import * as echarts from "echarts";

const POLL_MS = 1000;

// chart id -> title, unit and how to turn one point into {series name: value}
const CHARTS = [
  {
    id: "lock-wait",
    title: "Lock wait p99 by lock (ms)",
    series: (p) => scaled(p.lock_wait_p99, 1000),
  },
  { id: "lock-waiters", title: "Lock waiters by lock", series: (p) => p.lock_waiters },
  {
    id: "pools",
    title: "Pools: used / max / pending",
    series: (p) => ({
      ...prefixed(p.pool_used, "used"),
      ...prefixed(p.pool_max, "max"),
      ...prefixed(p.pool_pending, "pending"),
    }),
  },
  {
    id: "errors",
    title: "5xx, acquire timeouts and rejections by class (per s)",
    series: (p) => ({
      "shop 5xx": p.http_5xx,
      ...prefixed(p.pool_timeouts, "acquire timeouts"),
      ...prefixed(p.shop_rejections, "shop"),
      ...prefixed(p.locust_rejections, "locust"),
    }),
  },
  {
    id: "loop-lag",
    title: "Event-loop lag p99 (ms)",
    series: (p) => ({ "loop lag p99": p.loop_lag_p99 == null ? null : p.loop_lag_p99 * 1000 }),
  },
  {
    id: "switches",
    title: "Incident switches on",
    // null while no replica answered: a gap, not "off".
    series: (p) => (p.switches == null ? null : Object.fromEntries(p.switches.map((s) => [s, 1]))),
  },
];

function scaled(values, factor) {
  return Object.fromEntries(
    Object.entries(values || {}).map(([k, v]) => [k, v == null ? null : v * factor]),
  );
}

function prefixed(values, prefix) {
  return Object.fromEntries(Object.entries(values || {}).map(([k, v]) => [`${prefix} ${k}`, v]));
}

function option(chart, points) {
  const names = new Set();
  const rows = points.map((p) => chart.series(p));
  rows.forEach((row) => Object.keys(row || {}).forEach((n) => names.add(n)));
  return {
    title: { text: chart.title, textStyle: { fontSize: 13 } },
    tooltip: { trigger: "axis" },
    legend: { type: "scroll", bottom: 0 },
    grid: { left: 50, right: 20, top: 40, bottom: 50 },
    xAxis: { type: "time" },
    yAxis: { type: "value", min: 0 },
    animation: false,
    series: [...names].map((name) => ({
      name,
      type: "line",
      showSymbol: false,
      step: chart.id === "switches" ? "end" : false,
      data: points.map((p, i) => [
        p.t * 1000,
        rows[i] == null ? null : (rows[i][name] ?? (chart.id === "switches" ? 0 : null)),
      ]),
    })),
  };
}

function Chart({ chart, points }) {
  const element = useRef(null);
  const instance = useRef(null);
  useEffect(() => {
    instance.current = echarts.init(element.current);
    const resize = () => instance.current && instance.current.resize();
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      instance.current.dispose();
    };
  }, []);
  useEffect(() => {
    instance.current.setOption(option(chart, points), { notMerge: true });
  }, [chart, points]);
  return (
    <div
      className="shop-chart"
      id={`shop-chart-${chart.id}`}
      data-points={points.length}
      ref={element}
      style={{ height: 260, width: "100%" }}
    />
  );
}

export default function ShopTab() {
  const [data, setData] = useState({ replicas: [], points: [] });
  const [error, setError] = useState(null);
  useEffect(() => {
    let stopped = false;
    const poll = async () => {
      try {
        const response = await fetch("./shop/series");
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const body = await response.json();
        if (!stopped) {
          setData(body);
          setError(null);
        }
      } catch (e) {
        if (!stopped) setError(String(e));
      }
    };
    poll();
    const timer = setInterval(poll, POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);
  const last = data.points[data.points.length - 1];
  const on = (last && last.switches) || [];
  return (
    <div id="shop-tab" style={{ padding: 8 }}>
      <p id="shop-status">
        Replicas: {last ? `${last.replicas_up}/${last.replicas} answering` : "waiting"} ·{" "}
        {data.replicas.join(", ")} · Incident switches on:{" "}
        <strong id="shop-switches">{on.length ? on.join(", ") : "none"}</strong>
        {error ? ` · ${error}` : ""}
      </p>
      <div style={{ display: "grid", gridTemplateColumns: "repeat(auto-fill, minmax(480px, 1fr))", gap: 12 }}>
        {CHARTS.map((chart) => (
          <Chart key={chart.id} chart={chart} points={data.points} />
        ))}
      </div>
    </div>
  );
}
