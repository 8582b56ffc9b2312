/**
 * The REST face of documents: read the latest snapshot, submit an op (a service, such as an
 * agent editing a file). The document id travels URL-encoded in one path segment
 * (`/v1/docs/workspace%3Aw1%2Fsrc%2Fmain.ts`).
 */
import { docId, docOpResultSchema, docSnapshotSchema, docSubmitRequest, type DocSubmitRequest } from "@switchboard/shared";
import Joi from "joi";
import type { Actor } from "../../auth/actor";
import type { Principal } from "../../auth/tokens";
import { defineRoute, type Route } from "../../http/routes";
import type { DocService } from "./service";

interface DocParams {
  id: string;
}

const docParams = Joi.object<DocParams>({ id: docId.required() });
const actorOf = (principal: Principal | undefined): Actor => principal!;

export function docRoutes(docs: DocService): Route[] {
  return [
    defineRoute<DocParams>({
      method: "get",
      path: "/v1/docs/:id",
      auth: "user",
      params: docParams,
      summary: "A document's snapshot and version (for whoever may open it)",
      responses: { 200: { description: "The document", body: docSnapshotSchema } },
      errors: ["FORBIDDEN", "NOT_FOUND"],
      handler: async ({ principal, params }) => ({ body: await docs.snapshot(actorOf(principal), params.id) }),
    }),
    defineRoute<DocParams, Record<string, never>, DocSubmitRequest>({
      method: "post",
      path: "/v1/docs/:id/ops",
      auth: "user",
      params: docParams,
      body: docSubmitRequest,
      summary: "Submit an op made against a version (creates the document at version 0)",
      responses: { 200: { description: "The version the op made (duplicate: a clientOpId applied before)", body: docOpResultSchema } },
      errors: ["CONFLICT", "FORBIDDEN", "NOT_FOUND", "RATE_LIMITED"],
      handler: async ({ principal, params, body }) => {
        const { type, ...input } = body;
        return { body: await docs.submit(actorOf(principal), params.id, input, { type }) };
      },
    }),
  ];
}
