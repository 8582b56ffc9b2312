/**
 * Serves the client SDK's browser bundle (client/dist/switchboard-client.js, built by
 * `npm run build`) at `/sdk/switchboard-client.js`, beside the socket.io client the node serves
 * at /socket.io/socket.io.min.js, so a page on any node loads both from that node.
 *
 * The file is read on first request and kept; found relative to this file, so the same path works
 * from src/ (ts-jest) and dist/. Without a built bundle the path answers 404.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { AppError } from "@switchboard/shared";
import Joi from "joi";
import { defineRoute } from "../../http/routes";
import type { Feature } from "../types";

export const SDK_DIST = resolve(__dirname, "..", "..", "..", "..", "client", "dist");
export const SDK_PATH = "/sdk/switchboard-client.js";

// Pages on other origins may load the bundle with <script src>, as they load socket.io.min.js.
const HEADERS = { "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", "Cross-Origin-Resource-Policy": "cross-origin" };

export function sdkFeature(): Feature {
  const files = new Map<string, string>();
  const read = (name: string): string => {
    let body = files.get(name);
    if (body === undefined) {
      try {
        body = readFileSync(resolve(SDK_DIST, name), "utf8");
      } catch {
        throw new AppError("NOT_FOUND", "the SDK bundle is not built (npm run build)");
      }
      files.set(name, body);
    }
    return body;
  };
  return {
    routes: [
      defineRoute({
        method: "get",
        path: SDK_PATH,
        auth: "public",
        unlimited: true,
        summary: "The client SDK's browser bundle (PROTOCOL §10)",
        responses: { 200: { description: "JavaScript", contentType: "text/javascript; charset=utf-8" } },
        errors: ["NOT_FOUND"],
        handler: () => ({ body: read("switchboard-client.js"), contentType: "text/javascript; charset=utf-8", headers: HEADERS }),
      }),
      defineRoute({
        method: "get",
        path: `${SDK_PATH}.map`,
        auth: "public",
        unlimited: true,
        summary: "The bundle's source map",
        responses: { 200: { description: "Source map (version 3)", body: Joi.object({ version: Joi.number().valid(3).required(), mappings: Joi.string().allow("").required() }).unknown(true) } },
        errors: ["NOT_FOUND"],
        handler: () => ({ body: read("switchboard-client.js.map"), contentType: "application/json; charset=utf-8", headers: HEADERS }),
      }),
    ],
  };
}
