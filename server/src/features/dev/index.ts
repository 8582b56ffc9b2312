/**
 * Development helpers: `POST /dev/token` mints a short-lived user token signed with this node's
 * secret, so the demo page and a fresh `npm start` can connect without a token service.
 * Anyone who reaches the route can be any user, so it exists only when DEV_TOKENS=1 (which the
 * configuration refuses in production), and only with an HS256 secret to sign with.
 */
import { userId } from "@switchboard/shared";
import Joi from "joi";
import { issueToken } from "../../auth/tokens";
import { defineRoute } from "../../http/routes";
import type { Feature, FeatureDeps } from "../types";

/** Lifetime of a development token. */
export const DEV_TOKEN_TTL_S = 3600;

interface DevTokenBody {
  userId: string;
  name?: string;
}

export function devFeature(deps: FeatureDeps): Feature {
  const { jwt, devTokens } = deps.config;
  const secret = jwt.secret;
  if (!devTokens) return {};
  if (!secret) {
    deps.logger.warn("DEV_TOKENS is set but tokens come from JWT_JWKS_URL only: POST /dev/token is not served", { event: "config" });
    return {};
  }
  deps.logger.warn("DEV_TOKENS is set: POST /dev/token mints a token for any user to anyone who can reach this node", { event: "config" });
  return {
    routes: [
      defineRoute<Record<string, never>, Record<string, never>, DevTokenBody>({
        method: "post",
        path: "/dev/token",
        auth: "public",
        body: Joi.object({ userId: userId.required(), name: Joi.string().max(128) }),
        summary: "Mint a one-hour token for any user (DEV_TOKENS=1 only, never in production)",
        responses: { 200: { description: "The token", body: Joi.object({ token: Joi.string().required(), expiresIn: Joi.number().integer().required().description("seconds") }) } },
        handler: async ({ body }) => {
          const token = await issueToken(secret, { ...body, ttlS: DEV_TOKEN_TTL_S, issuer: jwt.issuer, audience: jwt.audience });
          return { body: { token, expiresIn: DEV_TOKEN_TTL_S } };
        },
      }),
    ],
  };
}
