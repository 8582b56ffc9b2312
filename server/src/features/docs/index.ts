/**
 * Collaborative documents (PROTOCOL §9 "Collaborative documents"): operational transformation
 * with the server as the authority, over the engine's op log.
 */
import { defineRoute, type Route } from "../../http/routes";
import type { Feature, FeatureDeps } from "../types";
import { otTextBrowserBundle } from "./browser";
import { docCommands } from "./commands";
import { docRoutes } from "./routes";
import { DocService } from "./service";

export function docsFeature(deps: FeatureDeps): Feature {
  const docs = new DocService({ config: deps.config, engine: deps.engine, io: deps.io, metrics: deps.metrics });
  const routes: Route[] = docRoutes(docs);
  // The demo page's shared editor runs the same OT type as the nodes.
  const bundle = otTextBrowserBundle();
  if (bundle === undefined) deps.logger.warn("ot-text-unicode not readable; the demo editor is off", { event: "docs" });
  else {
    routes.push(
      defineRoute({
        method: "get",
        path: "/demo/ot-text-unicode.js",
        auth: "public",
        unlimited: true,
        summary: "The text OT type for the demo page's editor",
        responses: { 200: { description: "JavaScript", contentType: "text/javascript; charset=utf-8" } },
        handler: () => ({ body: bundle, contentType: "text/javascript; charset=utf-8", headers: { "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff" } }),
      }),
    );
  }
  return { commands: docCommands(docs), routes };
}
