/**
 * The REST counterpart of the command pipeline: every route is declared with defineRoute and
 * runs through auth (roles) -> rate limit -> validation of params, query and body -> handler,
 * with the protocol's error envelope, metrics and a log line.
 */
import { AppError, HTTP_STATUS, PAYLOAD_OPTIONS, QUERY_OPTIONS, validateInput, type ErrorCode } from "@switchboard/shared";
import type { Request, Response, Router } from "express";
import type Joi from "joi";
import { RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { bearerToken, ROLE_ADMIN, ROLE_SERVICE, type Principal, type TokenVerifier } from "../auth/tokens";
import { toAppError } from "../errors";
import type { Logger } from "../observability/logger";
import type { Metrics } from "../observability/metrics";
import type { RefusalLog } from "../observability/refusal-log";

/** `public`: no token; `user`: any valid token; a role list: a token holding one of them. */
export type RouteAuth = "public" | "user" | readonly string[];

export const SERVICE_ROLES = [ROLE_SERVICE, ROLE_ADMIN] as const;

export interface RouteContext<P, Q, B> {
  principal: Principal | undefined;
  params: P;
  query: Q;
  body: B;
  req: Request;
}

export interface RouteResult {
  status?: number;
  /** An object is sent as JSON, a string as text. */
  body: unknown;
  contentType?: string;
  /** Extra response headers (cache policy, content security policy, …). */
  headers?: Record<string, string>;
}

/** What a route answers with one status: a JSON body its joi schema describes, or a text body of one content type. */
export type RouteResponse = { description: string; body: Joi.Schema } | { description: string; contentType: string };

/** What the OpenAPI document (`GET /v1/openapi.json`) says of a route, beside its schemas. */
export interface RouteDocs {
  /** One line: what the route does. */
  summary: string;
  /** Every answer that is not an error envelope, by status. */
  responses: Readonly<Record<number, RouteResponse>>;
  /**
   * The error codes the handler answers with, beyond those its auth, schemas, body and rate limit
   * imply (those are added by the document: PROTOCOL §4).
   */
  errors?: readonly ErrorCode[];
}

export interface RouteDefinition<P = unknown, Q = unknown, B = unknown> extends RouteDocs {
  method: "get" | "post" | "put" | "delete";
  path: string;
  auth: RouteAuth;
  params?: Joi.ObjectSchema<P>;
  query?: Joi.ObjectSchema<Q>;
  body?: Joi.ObjectSchema<B>;
  /** Exempt from rate limits (health checks, metrics scrapes). */
  unlimited?: boolean;
  handler: (ctx: RouteContext<P, Q, B>) => RouteResult | Promise<RouteResult>;
}

/** A declared route. Its types are checked at defineRoute; the wrapper sees them erased. */
export interface Route extends RouteDocs {
  method: RouteDefinition["method"];
  path: string;
  auth: RouteAuth;
  params?: Joi.ObjectSchema<unknown>;
  query?: Joi.ObjectSchema<unknown>;
  body?: Joi.ObjectSchema<unknown>;
  unlimited?: boolean;
  /** Runs with params, query and body that already passed their schemas. */
  handler: (ctx: RouteContext<unknown, unknown, unknown>) => RouteResult | Promise<RouteResult>;
}

export function defineRoute<P = Record<string, never>, Q = Record<string, never>, B = undefined>(route: RouteDefinition<P, Q, B>): Route {
  return {
    ...route,
    params: route.params as Joi.ObjectSchema<unknown> | undefined,
    query: route.query as Joi.ObjectSchema<unknown> | undefined,
    body: route.body as Joi.ObjectSchema<unknown> | undefined,
    handler: (ctx) => route.handler(ctx as RouteContext<P, Q, B>),
  };
}

export interface RouteDeps {
  verifier: TokenVerifier;
  rateLimiter: RateLimiterAbstract;
  refusals: RefusalLog;
  metrics: Metrics;
  logger: Logger;
}

export function sendError(res: Response, error: AppError): void {
  res.status(HTTP_STATUS[error.code]).json({ error: error.toBody() });
}

export function mountRoutes(router: Router, routes: readonly Route[], deps: RouteDeps): void {
  for (const route of routes) {
    router[route.method](route.path, (req: Request, res: Response) => void handle(route, req, res, deps));
  }
}

async function authenticate(route: Route, req: Request, verifier: TokenVerifier): Promise<Principal | undefined> {
  if (route.auth === "public") return undefined;
  const principal = await verifier.verify(bearerToken(req.headers.authorization));
  if (route.auth !== "user" && !route.auth.some((role) => principal.roles.includes(role))) {
    throw new AppError("FORBIDDEN", `this endpoint needs one of the roles: ${route.auth.join(", ")}`);
  }
  return principal;
}

function validate<T>(schema: Joi.ObjectSchema<T> | undefined, value: unknown, what: string, options: Joi.ValidationOptions): T {
  if (!schema) {
    const empty = value === undefined || (typeof value === "object" && value !== null && Object.keys(value).length === 0);
    if (!empty) throw new AppError("VALIDATION_FAILED", `this endpoint takes no ${what}`);
    return value as T;
  }
  return validateInput(schema, value ?? {}, options, { what });
}

/** Whom a refused request's log budget counts against: the client's address (nginx's, resolved through `trust proxy`). */
function refusalClient(req: Request): string {
  return `http:${req.ip ?? "unknown"}`;
}

async function handle(route: Route, req: Request, res: Response, deps: RouteDeps): Promise<void> {
  const started = performance.now();
  try {
    const principal = await authenticate(route, req, deps.verifier);
    if (principal && !route.unlimited && !principal.roles.includes(ROLE_SERVICE)) {
      try {
        await deps.rateLimiter.consume(`${principal.tenant}|${principal.userId}|rest`);
      } catch (err) {
        if (err instanceof RateLimiterRes) {
          res.setHeader("Retry-After", Math.ceil(err.msBeforeNext / 1000));
          throw new AppError("RATE_LIMITED", "too many requests; slow down", { retryAfterMs: err.msBeforeNext });
        }
        throw err;
      }
    }
    const ctx = {
      principal,
      params: validate(route.params, { ...req.params }, "path parameters", QUERY_OPTIONS),
      query: validate(route.query, { ...(req.query as object) }, "query", QUERY_OPTIONS),
      body: validate(route.body, req.body, "body", PAYLOAD_OPTIONS),
      req,
    };
    const result = await route.handler(ctx);
    const status = result.status ?? 200;
    if (result.headers) res.set(result.headers);
    if (typeof result.body === "string") res.status(status).type(result.contentType ?? "text/plain").send(result.body);
    else res.status(status).json(result.body);
  } catch (err) {
    const { error, internal } = toAppError(err);
    if (internal) deps.logger.error("request failed", { event: "http", route: route.path, error: err instanceof Error ? err.stack : String(err) });
    sendError(res, error);
  } finally {
    const labels = { route: route.path, method: route.method.toUpperCase() };
    deps.metrics.httpRequests.inc({ ...labels, status: String(res.statusCode) });
    deps.metrics.httpDuration.observe(labels, (performance.now() - started) / 1000);
    if (res.statusCode >= 400) deps.refusals.refused(refusalClient(req), "http", "request refused", { ...labels, status: res.statusCode });
  }
}
