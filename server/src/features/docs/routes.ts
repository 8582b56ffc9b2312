/**
 * The REST face of documents: read the latest snapshot, submit an op (a service, such as an
 * agent editing a file). The document id travels URL-encoded in one path segment
 * (`/v1/docs/workspace%3Aw1%2Fsrc%2Fmain.ts`).
 */
import { docId, docSubmitRequest, type DocSubmitRequest } from "@switchboard/shared";
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
      handler: async ({ principal, params }) => ({ body: await docs.snapshot(actorOf(principal), params.id) }),
    }),
    defineRoute<DocParams, Record<string, never>, DocSubmitRequest>({
      method: "post",
      path: "/v1/docs/:id/ops",
      auth: "user",
      params: docParams,
      body: docSubmitRequest,
      handler: async ({ principal, params, body }) => {
        const { type, ...input } = body;
        return { body: await docs.submit(actorOf(principal), params.id, input, { type }) };
      },
    }),
  ];
}
