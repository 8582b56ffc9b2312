/**
 * The demo page (PROTOCOL §7): `GET /` serves server/public/index.html, its script and its
 * stylesheet. The page signs in through `POST /dev/token`, which only the dev feature provides
 * (with DEV_TOKENS=1, never in production); without it the page accepts a pasted token instead.
 *
 * The files are read once at start from server/public, found relative to this file, so the
 * same path works from src/ (tests through ts-jest) and from dist/ (the build copies nothing).
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import Joi from "joi";
import { defineRoute, type Route } from "../../http/routes";
import type { Feature, FeatureDeps } from "../types";

export const PUBLIC_DIR = resolve(__dirname, "..", "..", "..", "public");

interface Asset {
  path: string;
  file: string;
  contentType: string;
  /** `/?user=alice&room=lobby`: the page reads its own query; anything else is ignored. */
  query?: Joi.ObjectSchema<Record<string, string>>;
  summary: string;
}

const ASSETS: readonly Asset[] = [
  { path: "/", file: "index.html", contentType: "text/html; charset=utf-8", query: Joi.object().unknown(true), summary: "The demo page (PROTOCOL §7)" },
  { path: "/demo/app.js", file: "app.js", contentType: "text/javascript; charset=utf-8", summary: "The demo page's script" },
  { path: "/demo/leaderboard.js", file: "leaderboard.js", contentType: "text/javascript; charset=utf-8", summary: "The demo page's leaderboard script" },
  { path: "/demo/docs.js", file: "docs.js", contentType: "text/javascript; charset=utf-8", summary: "The demo page's editor script" },
  { path: "/demo/style.css", file: "style.css", contentType: "text/css; charset=utf-8", summary: "The demo page's stylesheet" },
];

/** The page loads only its own files and talks only to its own origin (HTTP and WebSocket). */
const HEADERS: Record<string, string> = {
  "Cache-Control": "no-cache",
  "Content-Security-Policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
};

export function demoFeature(deps: FeatureDeps): Feature {
  const routes: Route[] = [];
  for (const asset of ASSETS) {
    let body: string;
    try {
      body = readFileSync(join(PUBLIC_DIR, asset.file), "utf8");
    } catch (err) {
      // A package installed without public/ still runs; the page is simply not there.
      deps.logger.warn("demo page file missing; not served", { event: "demo", file: asset.file, error: (err as Error).message });
      continue;
    }
    routes.push(
      defineRoute<Record<string, never>, Record<string, string>>({
        method: "get",
        path: asset.path,
        auth: "public",
        unlimited: true,
        query: asset.query,
        summary: asset.summary,
        responses: { 200: { description: "The file", contentType: asset.contentType } },
        handler: () => ({ body, contentType: asset.contentType, headers: HEADERS }),
      }),
    );
  }
  return { routes };
}
