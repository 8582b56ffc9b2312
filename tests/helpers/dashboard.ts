/**
 * The Grafana dashboard of deploy/grafana/dashboards/: its panels, every PromQL expression it
 * runs (panel targets and template variable queries) and the metric names those expressions read.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const DASHBOARD_FILE = join(__dirname, "..", "..", "deploy", "grafana", "dashboards", "switchboard.json");

export interface DashboardTarget {
  refId: string;
  expr: string;
  datasource?: { type?: string; uid?: string };
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: DashboardTarget[];
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: DashboardPanel[];
  templating: { list: { name: string; type: string; query: unknown; definition?: string }[] };
}

export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, "utf8")) as Dashboard;
}

/** Every PromQL expression the dashboard runs. */
export function dashboardExpressions(dashboard: Dashboard = readDashboard()): string[] {
  const targets = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
  const variables = dashboard.templating.list.filter((v) => v.type === "query").map((v) => (typeof v.query === "string" ? v.query : (v.query as { query: string }).query));
  return [...targets, ...variables];
}

/** The metric names one expression reads (every metric of the nodes starts with `switchboard_`). */
export function metricNamesOf(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\b(switchboard_[a-zA-Z0-9_:]*)/g)].map((m) => m[1]!))];
}

/** The metric names the whole dashboard reads, sorted. */
export function dashboardMetricNames(dashboard: Dashboard = readDashboard()): string[] {
  return [...new Set(dashboardExpressions(dashboard).flatMap(metricNamesOf))].sort();
}
