/**
 * Collaborative documents (PROTOCOL §9 "Collaborative documents"): ids, limits, payload types
 * and schemas shared by nodes, the emitter and clients. The OT side (ot-text-unicode, ot-json1)
 * lives in doc-types.ts.
 */
import Joi from "joi";
import { jsonValue } from "./json";
import type { MessageSender } from "./rooms";

export const DOC_TYPES = ["text", "json"] as const;
/** `text`: a string edited with ot-text-unicode; `json`: a JSON value edited with ot-json1. */
export type DocType = (typeof DOC_TYPES)[number];

export const DOC_SCOPES = ["room", "workspace"] as const;
/** A document belongs to a room or a workspace: who may access that may access the document. */
export type DocScopeKind = (typeof DOC_SCOPES)[number];

export interface DocScope {
  kind: DocScopeKind;
  id: string;
}

/**
 * `<scope>:<scopeId>/<name>`: `room:math-101/notes`, `workspace:w1/src/main.ts`. The scope id is
 * a room or workspace id (`[A-Za-z0-9_.:-]{1,128}`, never a `/`); the name is one or more
 * `/`-separated segments of `[A-Za-z0-9_.:-]`, at most 256 characters.
 */
export const DOC_ID_PATTERN = /^(room|workspace):([A-Za-z0-9_.:-]{1,128})\/([A-Za-z0-9_.:-]+(?:\/[A-Za-z0-9_.:-]+)*)$/;
export const DOC_NAME_MAX = 256;

/** The largest document: the UTF-8 bytes of a text, the JSON text of a JSON document. */
export const DOC_MAX_BYTES = 1024 * 1024;
/** The largest op (its JSON text). */
export const DOC_OP_MAX_BYTES = 32 * 1024;
/** Ops a socket may submit per second (services exempt). */
export const DOC_OPS_PER_SECOND = 50;
/** Cursor updates per document at most this often per socket (20/s). */
export const DOC_CURSOR_INTERVAL_MS = 50;
/** A snapshot is stored with every op whose version is a multiple of this. */
export const DOC_SNAPSHOT_EVERY = 100;
/** At a snapshot the op log keeps at least this many of the latest ops; older ones are trimmed. */
export const DOC_LOG_KEEP = 1000;
/** How long a `clientOpId` is remembered: a resend within it applies once. */
export const DOC_ONCE_TTL_S = 86400;
/** How often one op is transformed again and retried when other nodes append at the same moment. */
export const DOC_APPEND_ATTEMPTS = 25;
/** Documents one socket may have open at once. */
export const DOC_OPEN_MAX = 100;

/** One op of a document's log: the op that took the document from `version - 1` to `version`. */
export interface DocOpEntry {
  version: number;
  op: unknown;
  from: MessageSender;
  clientOpId?: string;
  /** ms since the epoch, when the op was accepted. */
  ts: number;
}

/** `doc:op` to the other subscribers: an entry of the log (`version`: the version the op made). */
export interface DocOpEvent extends DocOpEntry {
  docId: string;
}

export interface DocOpenPayload {
  docId: string;
  /** The type a new document gets (default `text`); an existing document of another type is CONFLICT. */
  type?: DocType;
  /** The version the client has: answered with the ops since, when the log still holds them. */
  version?: number;
}

/** What `doc:open` answers: the snapshot at `version`, or (with `version` asked) the ops since. */
export type DocOpenResult =
  | { docId: string; type: DocType; version: number; snapshot: unknown }
  | { docId: string; type: DocType; version: number; ops: DocOpEntry[] };

export interface DocSnapshot {
  docId: string;
  type: DocType;
  version: number;
  snapshot: unknown;
}

export interface DocRefPayload {
  docId: string;
}

/** An op and the version it was made against. */
export interface DocSubmit {
  version: number;
  op: unknown;
  /** Makes a resend apply once (scoped to the submitting user). */
  clientOpId?: string;
}

export interface DocOpPayload extends DocSubmit {
  docId: string;
}

/** `POST /v1/docs/:id/ops`: an op, and the type a new document gets. */
export interface DocSubmitRequest extends DocSubmit {
  type?: DocType;
}

export interface DocOpResult {
  /** The version the op made. */
  version: number;
  /** The `clientOpId` had been applied before: this is the version it made then. */
  duplicate?: boolean;
}

/**
 * A text selection is a position or `[anchor, head]` (Unicode code points); a JSON one is a
 * path (array of keys and indexes).
 */
export type DocSelection = number | [number, number] | (string | number)[];

export interface DocCursorPayload {
  docId: string;
  /** The version the selection refers to. */
  version: number;
  selection: DocSelection;
}

/** `doc:cursor`: a subscriber's selection, moved through the ops up to `version`. */
export interface DocCursorEvent {
  docId: string;
  userId: string;
  deviceId: string;
  /** null when the JSON item it pointed at was removed. */
  selection: DocSelection | null;
  version: number;
}

export interface ParsedDocId {
  scope: DocScope;
  name: string;
}

/** The scope and name of a document id, or undefined when it is not one. */
export function parseDocId(docId: string): ParsedDocId | undefined {
  const match = DOC_ID_PATTERN.exec(docId);
  if (!match || match[3]!.length > DOC_NAME_MAX) return undefined;
  return { scope: { kind: match[1] as DocScopeKind, id: match[2]! }, name: match[3]! };
}

export function docIdOf(scope: DocScope, name: string): string {
  return `${scope.kind}:${scope.id}/${name}`;
}

/** The Socket.IO room of a document's subscribers (scope it with tenantRoom). */
export const docRoom = (docId: string): string => `doc:${docId}`;

export const docId = Joi.string()
  .max(DOC_NAME_MAX + 140)
  .custom((value: string, helpers) => (parseDocId(value) ? value : helpers.error("doc.id")), "document id")
  .messages({ "doc.id": "{{#label}} must be room:<roomId>/<name> or workspace:<workspaceId>/<name>" });
export const docType = Joi.string().valid(...DOC_TYPES);
export const docVersion = Joi.number().integer().min(0).max(Number.MAX_SAFE_INTEGER);
export const clientOpId = Joi.string().pattern(/^[A-Za-z0-9_.:-]{1,64}$/, "client op id");
/** An op is JSON (its shape is checked by its type); `null` is json1's no-op. */
const docOp = jsonValue.required();

const selection = Joi.alternatives(
  Joi.number().integer().min(0),
  Joi.array()
    .items(Joi.alternatives(Joi.number().integer().min(0), Joi.string().max(256)))
    .max(64),
);

/** Fields of a submit, shared by `doc:op`, `POST /v1/docs/:id/ops` and the emitter. */
export const docSubmitFields = {
  version: docVersion.required(),
  op: docOp,
  clientOpId,
};

export const docSchemas = {
  "doc:open": Joi.object<DocOpenPayload>({ docId: docId.required(), type: docType, version: docVersion }),
  "doc:op": Joi.object<DocOpPayload>({ docId: docId.required(), ...docSubmitFields }),
  "doc:close": Joi.object<DocRefPayload>({ docId: docId.required() }),
  "doc:cursor": Joi.object<DocCursorPayload>({ docId: docId.required(), version: docVersion.required(), selection: selection.required() }),
} as const;

/** The body of `POST /v1/docs/:id/ops` and the options of the emitter's `doc(id).submit`. */
export const docSubmitRequest = Joi.object<DocSubmitRequest>({ ...docSubmitFields, type: docType });

/* Response schemas (the OpenAPI document's; nodes do not validate their answers with them). */
export const docSnapshotSchema = Joi.object<DocSnapshot>({
  docId: Joi.string().required(),
  type: docType.required(),
  version: Joi.number().integer().min(0).required(),
  snapshot: Joi.any().required().description("the text (text documents) or the JSON value (json documents)"),
});

export const docOpResultSchema = Joi.object<DocOpResult>({ version: Joi.number().integer().min(1).required(), duplicate: Joi.boolean() });
