"use strict";
/**
 * The fan-out suite's chart: an SVG of bench/results.json (what bench/fanout.js writes) with two
 * panels over the same steps (the offered publishes/s): deliveries/s, with the offered deliveries
 * as a dashed reference, and the delivery latency p99 in ms on a log scale, with the 50 ms target.
 * Each system that ran (switchboard, bare) is a line with a point per step; an aborted step's
 * point is hollow. The title carries the run's date and the machine's cores.
 *
 * `fanoutChart(results)` returns the SVG text (no I/O). bench/fanout.js writes bench/fanout.svg
 * after every run; `node bench/chart.js [results.json] [out.svg]` draws it again from a results
 * file (defaults: bench/results.json, bench/fanout.svg).
 */

const SYSTEMS = [
  { id: "switchboard", name: "Switchboard", color: "#2563eb" },
  { id: "bare", name: "bare Socket.IO + redis-adapter", color: "#ea580c" },
];
const OFFERED_COLOR = "#9ca3af";
const P99_TARGET_MS = 50;

const WIDTH = 900;
const MARGIN = { left: 86, right: 24 };
const TITLE_H = 78;
const PANEL_H = 230;
const PANEL_GAP = 84;
const X_LABEL_H = 58;

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]);
const num = (v) => Number(v.toFixed(1));
const group = (n) => String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, " ");

/** 12 000 -> "12k", 1 500 -> "1.5k", 800 -> "800". */
function short(n) {
  if (Math.abs(n) >= 1000) return `${Number((n / 1000).toFixed(1))}k`;
  return String(Number(n.toFixed(2)));
}

/** Round tick steps (1, 2, 2.5, 5 × 10^k) from 0 to at least `max`, about `count` of them. */
function linearTicks(max, count = 5) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let v = 0; v <= max + step * 1e-9 || ticks.length < 2; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

/** Decades 10^a … 10^b covering [min, max]. */
function logTicks(min, max) {
  const lo = Math.floor(Math.log10(Math.max(min, 1e-3)));
  let hi = Math.ceil(Math.log10(Math.max(max, 1e-3)));
  if (hi === lo) hi = lo + 1;
  const ticks = [];
  for (let e = lo; e <= hi; e++) ticks.push(10 ** e);
  return ticks;
}

const DATE_FORMAT = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/;

/** The series the chart draws, per system: `{ id, name, color, points: [{ rate, delivered, p99, aborted }] }`. */
function seriesOf(results) {
  const res = (results && results.results) || {};
  return SYSTEMS.filter((s) => res[s.id] && Array.isArray(res[s.id].steps)).map((s) => ({
    ...s,
    points: res[s.id].steps.map((st) => ({ rate: st.targetRate, delivered: st.deliveriesPerSec, p99: st.p99, aborted: Boolean(st.aborted) })),
  }));
}

/**
 * The SVG text of the fan-out chart of `results` (the object bench/fanout.js writes to
 * bench/results.json).
 */
function fanoutChart(results) {
  const config = results.config || {};
  const series = seriesOf(results);
  const perRoom = config.perRoom || 10;
  const rates = [...new Set(series.flatMap((s) => s.points.map((p) => p.rate)))].sort((a, b) => a - b);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const slot = plotW / Math.max(1, rates.length);
  const xOf = (rate) => MARGIN.left + slot * (rates.indexOf(rate) + 0.5);
  const height = TITLE_H + PANEL_H * 2 + PANEL_GAP + X_LABEL_H;
  const out = [];

  const date = DATE_FORMAT.exec(results.when || "");
  const cores = config.cpus ? `${config.cpus} cores` : "cores unknown";
  const subtitle = [
    config.nodes && `${config.nodes} nodes`,
    config.subscribers && `${config.subscribers} subscribers in ${config.rooms} rooms of ${perRoom}`,
    config.stepMs && `${config.stepMs / 1000} s per step`,
    date ? `${date[1]} ${date[2]} UTC` : null,
    cores,
  ]
    .filter(Boolean)
    .join(" · ");

  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`,
    `<title>Fan-out: Switchboard vs bare, deliveries/s and p99 per step (${esc(subtitle)})</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text class="title" x="${MARGIN.left}" y="26" font-size="17" font-weight="600" fill="#111827">Fan-out: Switchboard vs bare Socket.IO, per offered rate</text>`,
    `<text class="subtitle" x="${MARGIN.left}" y="46" fill="#4b5563">${esc(subtitle)}</text>`,
  );

  // legend
  const legend = [...series.map((s) => ({ label: s.name, color: s.color, dashed: false })), { label: `offered (publishes/s × ${perRoom})`, color: OFFERED_COLOR, dashed: true }];
  let lx = MARGIN.left;
  out.push(`<g class="legend">`);
  for (const item of legend) {
    out.push(
      `<line x1="${lx}" y1="62" x2="${lx + 22}" y2="62" stroke="${item.color}" stroke-width="2.5"${item.dashed ? ' stroke-dasharray="5 4"' : ""}/>`,
      item.dashed ? "" : `<circle cx="${lx + 11}" cy="62" r="3.5" fill="${item.color}"/>`,
      `<text x="${lx + 28}" y="66" fill="#111827">${esc(item.label)}</text>`,
    );
    lx += 36 + item.label.length * 6.6;
  }
  if (series.some((s) => s.points.some((p) => p.aborted))) {
    out.push(`<circle cx="${lx + 4}" cy="62" r="4" fill="#ffffff" stroke="#374151" stroke-width="1.5"/>`, `<text x="${lx + 14}" y="66" fill="#111827">step aborted (fell behind)</text>`);
  }
  out.push(`</g>`);

  const panel = ({ id, top, label, yTicks, yOf, value, reference, tickLabel }) => {
    const bottom = top + PANEL_H;
    out.push(`<g class="panel" data-panel="${id}">`);
    out.push(`<rect x="${MARGIN.left}" y="${top}" width="${plotW}" height="${PANEL_H}" fill="#f9fafb" stroke="#d1d5db"/>`);
    out.push(`<g class="y-axis">`);
    for (const t of yTicks) {
      const y = num(yOf(t));
      out.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#e5e7eb"/>`);
      out.push(`<text x="${MARGIN.left - 8}" y="${num(y + 4)}" text-anchor="end" fill="#374151">${esc(tickLabel(t))}</text>`);
    }
    const midY = top + PANEL_H / 2;
    out.push(`<text class="axis-label" x="${MARGIN.left - 60}" y="${midY}" text-anchor="middle" transform="rotate(-90 ${MARGIN.left - 60} ${midY})" fill="#111827">${esc(label)}</text>`);
    out.push(`</g>`);
    out.push(`<g class="x-axis">`);
    for (const r of rates) {
      const x = num(xOf(r));
      out.push(`<line x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 5}" stroke="#6b7280"/>`);
      out.push(`<text x="${x}" y="${bottom + 18}" text-anchor="middle" fill="#374151">${esc(short(r))}</text>`);
    }
    out.push(`<text class="axis-label" x="${MARGIN.left + plotW / 2}" y="${bottom + 38}" text-anchor="middle" fill="#111827">offered publishes/s (one step each)</text>`);
    out.push(`</g>`);
    if (reference) out.push(reference);
    for (const s of series) {
      const pts = s.points.filter((p) => value(p) !== null && value(p) !== undefined && Number.isFinite(value(p)));
      out.push(`<g class="series" data-system="${s.id}" data-panel="${id}">`);
      if (pts.length > 1) out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map((p) => `${num(xOf(p.rate))},${num(yOf(value(p)))}`).join(" ")}"/>`);
      for (const p of pts) {
        const fill = p.aborted ? "#ffffff" : s.color;
        out.push(
          `<circle cx="${num(xOf(p.rate))}" cy="${num(yOf(value(p)))}" r="4" fill="${fill}" stroke="${s.color}" stroke-width="1.5">` +
            `<title>${esc(`${s.name}, ${group(p.rate)} publishes/s: ${group(p.delivered)} deliveries/s, p99 ${p.p99 === null ? "-" : p.p99} ms${p.aborted ? " (aborted)" : ""}`)}</title></circle>`,
        );
      }
      out.push(`</g>`);
    }
    out.push(`</g>`);
  };

  // panel 1: deliveries/s, linear, with the offered deliveries as a reference
  const top1 = TITLE_H;
  const maxDelivered = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p.delivered || 0)), ...rates.map((r) => r * perRoom));
  const dTicks = linearTicks(maxDelivered);
  const dMax = dTicks[dTicks.length - 1];
  const yDelivered = (v) => top1 + PANEL_H - (v / dMax) * PANEL_H;
  const offered =
    rates.length > 1
      ? `<polyline class="offered" fill="none" stroke="${OFFERED_COLOR}" stroke-width="1.5" stroke-dasharray="5 4" points="${rates.map((r) => `${num(xOf(r))},${num(yDelivered(r * perRoom))}`).join(" ")}"/>`
      : "";
  panel({ id: "delivered", top: top1, label: "deliveries/s", yTicks: dTicks, yOf: yDelivered, value: (p) => p.delivered, reference: offered, tickLabel: short });

  // panel 2: p99 ms, log scale, with the 50 ms target
  const top2 = top1 + PANEL_H + PANEL_GAP;
  const p99s = series.flatMap((s) => s.points.map((p) => p.p99)).filter((v) => Number.isFinite(v) && v > 0);
  const lTicks = logTicks(Math.min(P99_TARGET_MS, ...p99s), Math.max(P99_TARGET_MS, ...p99s));
  const lMin = Math.log10(lTicks[0]);
  const lMax = Math.log10(lTicks[lTicks.length - 1]);
  const yP99 = (v) => top2 + PANEL_H - ((Math.log10(Math.max(v, lTicks[0])) - lMin) / (lMax - lMin)) * PANEL_H;
  const targetY = num(yP99(P99_TARGET_MS));
  const target =
    `<line class="target" x1="${MARGIN.left}" y1="${targetY}" x2="${MARGIN.left + plotW}" y2="${targetY}" stroke="#dc2626" stroke-width="1" stroke-dasharray="3 3"/>` +
    `<text x="${MARGIN.left + 6}" y="${num(targetY - 5)}" fill="#dc2626">p99 target ${P99_TARGET_MS} ms</text>`;
  panel({ id: "p99", top: top2, label: "delivery p99, ms (log scale)", yTicks: lTicks, yOf: yP99, value: (p) => (p.p99 > 0 ? p.p99 : null), reference: target, tickLabel: short });

  out.push(`</svg>`);
  return `${out.filter(Boolean).join("\n")}\n`;
}

module.exports = { fanoutChart, seriesOf, linearTicks, logTicks };

if (require.main === module) {
  const { readFileSync, writeFileSync } = require("node:fs");
  const path = require("node:path");
  const input = process.argv[2] || path.join(__dirname, "results.json");
  const output = process.argv[3] || path.join(__dirname, "fanout.svg");
  writeFileSync(output, fanoutChart(JSON.parse(readFileSync(input, "utf8"))));
  console.log(`chart of ${path.relative(process.cwd(), input)} written to ${path.relative(process.cwd(), output)}`);
}
