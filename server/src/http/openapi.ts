/**
 * The OpenAPI 3.1 document of a node's routes, generated from its route registry: paths and
 * methods, summaries, auth, and the JSON Schemas of path parameters, query, body and responses
 * converted from the same joi schemas the routes validate with (joi-to-json, OpenAPI 3.1 output,
 * JSON Schema 2020-12). Every route may answer the error envelope with the codes its auth,
 * schemas, body and rate limit imply, plus those it declares (PROTOCOL §4); each code under the
 * HTTP status HTTP_STATUS gives it.
 */
import { errorEnvelopeSchema, HTTP_STATUS, type ErrorCode } from "@switchboard/shared";
import Joi from "joi";
import parse from "joi-to-json";
import { defineRoute, type Route, type RouteResponse } from "./routes";

export const OPENAPI_PATH = "/v1/openapi.json";

type JsonSchema = Record<string, unknown>;

interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security: Record<string, string[]>[];
  parameters?: JsonSchema[];
  requestBody?: JsonSchema;
  responses: Record<string, JsonSchema>;
}

export interface OpenApiInfo {
  version: string;
}

/** The route's path in OpenAPI form: `/v1/rooms/:id` → `/v1/rooms/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

/** The error codes a route may answer: what its auth, schemas, body and rate limit imply, and its own. */
export function routeErrorCodes(route: Route): ErrorCode[] {
  // Any request may carry a query or body the route does not take, and any handler may fail.
  const codes = new Set<ErrorCode>(["VALIDATION_FAILED", "INTERNAL"]);
  if (route.body) codes.add("PAYLOAD_TOO_LARGE");
  if (route.auth !== "public") {
    for (const code of ["UNAUTHORIZED", "TOKEN_EXPIRED", "UNAVAILABLE"] as const) codes.add(code);
    if (route.auth !== "user") codes.add("FORBIDDEN");
    if (!route.unlimited) codes.add("RATE_LIMITED");
  }
  for (const code of route.errors ?? []) codes.add(code);
  return [...codes];
}

/** Converts a joi schema, moving the schemas it names (`.id()`) into `components`. */
function converter(components: Record<string, JsonSchema>) {
  return (schema: Joi.Schema): JsonSchema => {
    const converted = parse(schema, "open-api-3.1") as JsonSchema & { schemas?: Record<string, JsonSchema> };
    const { schemas, ...rest } = converted;
    for (const [name, named] of Object.entries(schemas ?? {})) {
      const known = components[name];
      if (known && JSON.stringify(known) !== JSON.stringify(named)) throw new Error(`two different schemas are named ${name}`);
      components[name] = named;
    }
    return rest;
  };
}

const tagOf = (path: string): string => {
  const segments = path.split("/").filter(Boolean);
  if (segments[0] === "v1") return segments[1] === "push" ? "notifications" : (segments[1] ?? "v1");
  if (segments[0] === "health" || segments[0] === "metrics") return "system";
  return segments[0] === undefined || segments[0] === "demo" ? "demo" : segments[0];
};

const operationIdOf = (route: Route): string =>
  [route.method, ...route.path.split("/").filter(Boolean)].map((part) => part.replace(/^:/, "by-")).join("-").replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? "").toUpperCase());

function authText(route: Route): string {
  if (route.auth === "public") return "No token.";
  if (route.auth === "user") return "Any valid token (`Authorization: Bearer <JWT>`).";
  return `A token with one of the roles: ${route.auth.join(", ")}.`;
}

function parameters(route: Route, convert: (schema: Joi.Schema) => JsonSchema): JsonSchema[] {
  const out: JsonSchema[] = [];
  const inPath = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
  const declared = (route.params ? Object.keys((convert(route.params).properties ?? {}) as object) : []).sort();
  if (JSON.stringify(declared) !== JSON.stringify([...inPath].sort())) {
    throw new Error(`${route.method.toUpperCase()} ${route.path}: its path names ${inPath.join(", ") || "no parameter"}, its params schema ${declared.join(", ") || "none"}`);
  }
  for (const [where, schema] of [["path", route.params], ["query", route.query]] as const) {
    if (!schema) continue;
    const converted = convert(schema) as { properties?: Record<string, JsonSchema>; required?: string[]; additionalProperties?: unknown };
    for (const [name, property] of Object.entries(converted.properties ?? {})) {
      out.push({ name, in: where, required: where === "path" || (converted.required ?? []).includes(name), schema: property });
    }
    if (where === "query" && converted.additionalProperties !== false) {
      // A query that takes any parameter (the demo page reads its own).
      out.push({ name: "query", in: "query", style: "form", explode: true, schema: { type: "object", additionalProperties: { type: "string" } } });
    }
  }
  return out;
}

function response(answer: RouteResponse, convert: (schema: Joi.Schema) => JsonSchema): JsonSchema {
  if ("body" in answer) return { description: answer.description, content: { "application/json": { schema: convert(answer.body) } } };
  return { description: answer.description, content: { [answer.contentType]: { schema: { type: "string" } } } };
}

/** The error envelope with `codes` (all of one status), as a shared response of `components`; answers its reference. */
function errorResponse(codes: readonly ErrorCode[], status: number, shared: Record<string, JsonSchema>, convert: (schema: Joi.Schema) => JsonSchema): JsonSchema {
  const name = `Error_${[...codes].sort().join("_")}`;
  shared[name] ??= {
    description: `The error envelope: ${codes.join(", ")}.`,
    ...(status === 429 ? { headers: { "Retry-After": { description: "seconds to wait", schema: { type: "integer", minimum: 0 } } } } : {}),
    content: { "application/json": { schema: convert(errorEnvelopeSchema(codes)) } },
  };
  return { $ref: `#/components/responses/${name}` };
}

function operation(route: Route, convert: (schema: Joi.Schema) => JsonSchema, sharedResponses: Record<string, JsonSchema>): Operation {
  const responses: Record<string, JsonSchema> = {};
  for (const [status, answer] of Object.entries(route.responses)) responses[status] = response(answer, convert);
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of routeErrorCodes(route)) byStatus.set(HTTP_STATUS[code], [...(byStatus.get(HTTP_STATUS[code]) ?? []), code]);
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    if (responses[status]) throw new Error(`${route.method.toUpperCase()} ${route.path}: ${status} is both an answer and the error status of ${codes.join(", ")}`);
    responses[status] = errorResponse(codes, status, sharedResponses, convert);
  }
  const op: Operation = {
    operationId: operationIdOf(route),
    summary: route.summary,
    description: authText(route),
    tags: [tagOf(route.path)],
    security: route.auth === "public" ? [] : [{ bearer: [] }],
    responses,
  };
  const params = parameters(route, convert);
  if (params.length > 0) op.parameters = params;
  if (route.body) op.requestBody = { required: true, content: { "application/json": { schema: convert(route.body) } } };
  if (route.auth !== "public" && route.auth !== "user") (op as unknown as JsonSchema)["x-roles"] = [...route.auth];
  return op;
}

/** The next turn of the event loop: what runs between two routes' conversions. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The document of `routes`; rejects on a route it cannot describe truthfully. Converting every
 * schema takes tens of milliseconds, so it yields to the event loop after each route.
 */
export async function openApiDocument(routes: readonly Route[], info: OpenApiInfo): Promise<JsonSchema> {
  const components: Record<string, JsonSchema> = {};
  const sharedResponses: Record<string, JsonSchema> = {};
  const convert = converter(components);
  const paths: Record<string, Record<string, Operation>> = {};
  const ids = new Set<string>();
  for (const route of routes) {
    const path = openApiPath(route.path);
    const item = (paths[path] ??= {});
    if (item[route.method]) throw new Error(`${route.method.toUpperCase()} ${route.path} is registered twice`);
    const op = operation(route, convert, sharedResponses);
    if (ids.has(op.operationId)) throw new Error(`two routes make the operation id ${op.operationId}`);
    ids.add(op.operationId);
    item[route.method] = op;
    await nextTurn();
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Switchboard REST API",
      version: info.version,
      description:
        "The REST face of a Switchboard node (PROTOCOL §4), generated from the node's route registry and the joi schemas its routes validate with. Errors are `{ error: { code, message, details? } }`.",
      license: { name: "MIT", identifier: "MIT" },
    },
    jsonSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
    servers: [{ url: "/" }],
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    components: { schemas: components, responses: sharedResponses, securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } },
  };
}

/**
 * `GET /v1/openapi.json`: the document of every route the node serves, itself included. Public,
 * as API descriptions usually are: it says what the routes take and answer, nothing about data.
 * Built on first request (the registry is complete by then) and kept.
 */
export function openApiRoute(routes: () => readonly Route[], info: OpenApiInfo): Route {
  let document: Promise<string> | undefined;
  return defineRoute({
    method: "get",
    path: OPENAPI_PATH,
    auth: "public",
    unlimited: true,
    summary: "This document: the OpenAPI 3.1 description of every route of the node",
    responses: {
      200: {
        description: "The OpenAPI document",
        body: Joi.object({ openapi: Joi.string().required(), info: Joi.object().unknown(true).required(), paths: Joi.object().unknown(true).required() }).unknown(true),
      },
    },
    handler: async () => {
      document ??= openApiDocument(routes(), info).then((built) => JSON.stringify(built));
      return { body: await document, contentType: "application/json; charset=utf-8", headers: { "Cache-Control": "no-cache" } };
    },
  });
}
