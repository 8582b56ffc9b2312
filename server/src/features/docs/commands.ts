/**
 * The document commands (`doc:open`, `doc:op`, `doc:close`, `doc:cursor`), each a thin call into
 * DocService through the pipeline, with the per-socket limits: ops per second, cursor throttle.
 */
import {
  AppError,
  DOC_CURSOR_INTERVAL_MS,
  DOC_OPS_PER_SECOND,
  docSchemas,
  type DocCursorPayload,
  type DocOpenPayload,
  type DocOpenResult,
  type DocOpPayload,
  type DocOpResult,
  type DocRefPayload,
  type DocType,
  type VolatileResult,
} from "@switchboard/shared";
import { ROLE_SERVICE } from "../../auth/tokens";
import { defineCommand, type CommandContext, type CommandDefinition } from "../../commands";
import { SocketThrottle } from "../socket-throttle";
import { SocketRate } from "./rate";
import { checkSelection, type DocService } from "./service";

export function docCommands(docs: DocService): CommandDefinition[] {
  const opRate = new SocketRate(DOC_OPS_PER_SECOND);
  const cursorThrottle = new SocketThrottle(DOC_CURSOR_INTERVAL_MS);

  /** Ops and cursors only for documents this socket opened (checked locally). */
  const openedType = (ctx: CommandContext, docId: string): DocType => {
    const type = docs.openedType(ctx.socket, docId);
    if (!type) throw new AppError("FORBIDDEN", `open document ${docId} first`);
    return type;
  };

  return [
    defineCommand<DocOpenPayload, DocOpenResult>("doc:open", docSchemas["doc:open"], ({ session, socket }, payload) => docs.open(session, socket, payload)),
    defineCommand<DocOpPayload, DocOpResult>("doc:op", docSchemas["doc:op"], (ctx, { docId, ...input }) => {
      const type = openedType(ctx, docId);
      if (!ctx.session.roles.includes(ROLE_SERVICE)) {
        const retryAfterMs = opRate.take(ctx.socket);
        if (retryAfterMs > 0) {
          docs.refused(type, "RATE_LIMITED");
          throw new AppError("RATE_LIMITED", `at most ${DOC_OPS_PER_SECOND} ops per second per connection`, { retryAfterMs });
        }
      }
      return docs.submit(ctx.session, docId, input, { type, exceptSocket: ctx.socket.id });
    }),
    defineCommand<DocRefPayload, object>("doc:close", docSchemas["doc:close"], async ({ session, socket }, payload) => {
      await docs.close(session, socket, payload.docId);
      return {};
    }),
    defineCommand<DocCursorPayload, VolatileResult>("doc:cursor", docSchemas["doc:cursor"], async (ctx, payload) => {
      const type = openedType(ctx, payload.docId);
      checkSelection(payload.selection, type);
      const room = docs.socketRoom(ctx.session.tenant, payload.docId);
      if (!cursorThrottle.allow(ctx.socket, room)) return { throttled: true };
      const { selection, version } = await docs.cursor(ctx.session, payload, type);
      const { userId, deviceId } = ctx.session;
      ctx.socket.to(room).volatile.emit("doc:cursor", { docId: payload.docId, userId, deviceId, selection, version });
      return {};
    }),
  ];
}
