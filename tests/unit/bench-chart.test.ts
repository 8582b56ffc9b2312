/**
 * bench/chart.js, the chart `npm run bench` draws beside bench/results.json: from a results object
 * shaped like the one bench/fanout.js writes, a well-formed SVG (parsed by a real XML parser) with
 * both systems' series in both panels, a point per step, the axes' labels, a legend and a title
 * with the date and the machine's cores.
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { fanoutChart, linearTicks, logTicks } from "../../bench/chart";

type Step = { targetRate: number; deliveriesPerSec: number; p99: number | null; aborted: string | null };

const step = (targetRate: number, deliveriesPerSec: number, p99: number | null, aborted: string | null = null): Step => ({ targetRate, deliveriesPerSec, p99, aborted });

/** Two systems over different numbers of steps: Switchboard aborted its fourth and ran no fifth. */
const fixture = {
  when: "2026-05-03T14:22:10.000Z",
  config: { nodes: 3, rooms: 30, perRoom: 10, subscribers: 300, rates: [800, 1600, 3200, 6400, 12800], stepMs: 5000, warmupMs: 1000, drainMs: 1500, cpus: 2 },
  results: {
    switchboard: { system: "switchboard", steps: [step(800, 7988, 5.5), step(1600, 15980, 4.5), step(3200, 31964, 35.4), step(6400, 41000, 2210.7, "delivery latency 2210 ms > 2000 ms")], restHistory: null },
    bare: { system: "bare", steps: [step(800, 7989, 2.7), step(1600, 15980, 3.3), step(3200, 31960, 6.4), step(6400, 63915, 33.4), step(12800, 90022, 159.7)], restHistory: null },
  },
  summary: null,
};

type Node = Record<string, unknown>;
const parser = new XMLParser({ ignoreAttributes: false, parseTagValue: false, parseAttributeValue: false, attributeNamePrefix: "@", isArray: (_name: string, _path: unknown, _leaf: boolean, isAttribute: boolean) => !isAttribute, textNodeName: "#text" });

/** Every element named `name` below `node`, depth first. */
function all(node: unknown, name: string): Node[] {
  if (Array.isArray(node)) return node.flatMap((n) => all(n, name));
  if (!node || typeof node !== "object") return [];
  return Object.entries(node as Node).flatMap(([key, value]) => [...(key === name && Array.isArray(value) ? (value as Node[]) : []), ...all(value, name)]);
}
/** The text inside a <text> element. */
function textOf(t: Node | undefined): string {
  const raw = t ? t["#text"] : undefined;
  return String((Array.isArray(raw) ? raw[0] : raw) ?? "");
}
/** The text of every <text> element below `node`. */
const texts = (node: unknown): string[] => all(node, "text").map(textOf);

describe("the fan-out chart", () => {
  const svg = fanoutChart(fixture);
  const doc = parser.parse(svg) as Node;
  const root = (doc.svg as Node[])[0];

  test("is well-formed SVG", () => {
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(root["@xmlns"]).toBe("http://www.w3.org/2000/svg");
    expect(Number(root["@width"])).toBeGreaterThan(0);
  });

  test("draws both systems in both panels, a point per step each, through a line", () => {
    const groups = all(root, "g").filter((g) => g["@class"] === "series");
    const find = (system: string, panel: string) => groups.filter((g) => g["@data-system"] === system && g["@data-panel"] === panel);
    for (const panel of ["delivered", "p99"]) {
      const sb = find("switchboard", panel);
      const bare = find("bare", panel);
      expect(sb).toHaveLength(1);
      expect(bare).toHaveLength(1);
      expect(all(sb[0], "circle")).toHaveLength(4);
      expect(all(bare[0], "circle")).toHaveLength(5);
      expect((all(sb[0], "polyline")[0]["@points"] as string).trim().split(/\s+/)).toHaveLength(4);
      expect((all(bare[0], "polyline")[0]["@points"] as string).trim().split(/\s+/)).toHaveLength(5);
    }
    // the aborted step's point is hollow
    const sbPoints = all(find("switchboard", "delivered")[0], "circle");
    expect(sbPoints.map((c) => c["@fill"])).toEqual(["#2563eb", "#2563eb", "#2563eb", "#ffffff"]);
  });

  test("puts higher values higher: deliveries/s linear, p99 on a log scale", () => {
    const groups = all(root, "g").filter((g) => g["@class"] === "series" && g["@data-system"] === "bare");
    const ys = (panel: string) => all(groups.find((g) => g["@data-panel"] === panel), "circle").map((c) => Number(c["@cy"]));
    const delivered = ys("delivered");
    for (let i = 1; i < delivered.length; i++) expect(delivered[i]).toBeLessThan(delivered[i - 1]);
    const p99 = ys("p99"); // 2.7, 3.3, 6.4, 33.4, 159.7 ms
    expect(p99[3]).toBeLessThan(p99[2]);
    expect(p99[4]).toBeLessThan(p99[3]);
    // log scale: a tenfold rise spans the same height wherever it is
    const ticks = all(all(root, "g").find((g) => g["@data-panel"] === "p99"), "g").find((g) => g["@class"] === "y-axis");
    const tickYs = all(ticks, "line").map((l) => Number(l["@y1"]));
    expect(tickYs.length).toBeGreaterThanOrEqual(3);
    expect(tickYs[0] - tickYs[1]).toBeCloseTo(tickYs[1] - tickYs[2], 0);
  });

  test("labels its axes and steps, and has a legend and a title with the date and the cores", () => {
    const words = texts(root);
    expect(words).toEqual(expect.arrayContaining(["deliveries/s", "delivery p99, ms (log scale)", "offered publishes/s (one step each)"]));
    for (const rate of ["800", "1.6k", "3.2k", "6.4k", "12.8k"]) expect(words.filter((w) => w === rate)).toHaveLength(2);
    const legend = all(root, "g").find((g) => g["@class"] === "legend");
    expect(texts(legend)).toEqual(expect.arrayContaining(["Switchboard", "bare Socket.IO + redis-adapter", "offered (publishes/s × 10)", "step aborted (fell behind)"]));
    const subtitle = textOf(all(root, "text").find((t) => t["@class"] === "subtitle"));
    expect(subtitle).toContain("2026-05-03 14:22 UTC");
    expect(subtitle).toContain("2 cores");
    expect(textOf(all(root, "text").find((t) => t["@class"] === "title"))).toMatch(/Switchboard vs bare/);
  });

  test("without a date or the cores in the results it still draws, and says so", () => {
    const bare = { when: "not a date", config: { perRoom: 10 }, results: fixture.results };
    const text = fanoutChart(bare);
    expect(XMLValidator.validate(text)).toBe(true);
    const subtitle = textOf(all(parser.parse(text), "text").find((t) => t["@class"] === "subtitle"));
    expect(subtitle).toBe("cores unknown");
  });

  test("draws one system alone, without a legend entry for the other", () => {
    const one = { ...fixture, results: { bare: fixture.results.bare } };
    const text = fanoutChart(one);
    expect(XMLValidator.validate(text)).toBe(true);
    const parsed = parser.parse(text) as Node;
    const groups = all(parsed, "g").filter((g) => g["@class"] === "series");
    expect(new Set(groups.map((g) => g["@data-system"]))).toEqual(new Set(["bare"]));
    expect(texts(all(parsed, "g").find((g) => g["@class"] === "legend"))).not.toContain("Switchboard");
  });
});

test("axis ticks cover the data with round steps", () => {
  expect(linearTicks(111475)).toEqual([0, 25000, 50000, 75000, 100000, 125000]);
  expect(linearTicks(40)).toEqual([0, 10, 20, 30, 40]);
  expect(logTicks(2.7, 1078.4)).toEqual([1, 10, 100, 1000, 10000]);
  expect(logTicks(50, 50)).toEqual([10, 100]);
});
