/**
 * Collaborative documents in Redis: a meta hash, an op log (a list), a snapshot string and
 * clientOpId keys, all under the hash tag of the document's room or workspace, so one script
 * checks membership, checks the version, appends, trims and publishes (DOC_APPEND).
 */
import { docKeys, socketRooms, type DocOpEntry, type DocOpEvent, type DocScope, type DocType, type KeyLayout, type SocketRooms } from "@switchboard/shared";
import type { DocAppendOutcome, DocAppendRequest, DocCreateOutcome, DocRead, DocStore } from "../types";
import type { RedisClient } from "../script";
import type { Delivery } from "../delivery";
import { adapterFrame } from "../frames";
import { RedisScript } from "../script";
import { LUA } from "../lua.generated";

const readDoc = new RedisScript(LUA["docs/read"]);
const appendOps = new RedisScript(LUA["docs/append"]);
const createDoc = new RedisScript(LUA["docs/create"]);

/**
 * The append script SPUBLISHes the sharded adapter's own packet of each `doc:op` in the step that
 * stores it (on a Redis Cluster the document's Socket.IO name carries the hash tag of its keys,
 * so its channel is on their slot), and this process then delivers to its local sockets.
 */
export class RedisDocStore implements DocStore {
  private delivery?: Delivery;
  private readonly rooms: SocketRooms;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
    /** True on a Redis Cluster: Socket.IO room names carry their keys' hash tag. */
    cluster: boolean,
  ) {
    this.rooms = socketRooms(cluster);
  }

  /** Where appended ops go; without one they are stored and reach nobody. */
  deliverThrough(delivery: Delivery): void {
    this.delivery = delivery;
  }

  async create(request: { tenant: string; docId: string; type: DocType; memberRequired?: string; idleTtlS: number }): Promise<DocCreateOutcome> {
    const k = docKeys(this.keys, request.tenant, request.docId);
    const reply = (await createDoc.run(this.redis, [k.scopeMeta, k.scopeMembers, k.meta, k.scopeDocs], [request.memberRequired ?? "", request.type, request.idleTtlS, request.docId])) as string[];
    const status = reply[0] as DocCreateOutcome["status"];
    return status === "exists" ? { status, type: reply[1] as DocType } : ({ status } as DocCreateOutcome);
  }

  async read(tenant: string, docId: string, from?: number): Promise<DocRead | undefined> {
    const k = docKeys(this.keys, tenant, docId);
    const reply = (await readDoc.run(this.redis, [k.meta, k.log, k.snapshot], [from ?? -1])) as (string | number)[];
    if (reply.length === 0) return undefined;
    const type = String(reply[1]) as DocType;
    const version = Number(reply[2]);
    if (reply[0] === "ops") return { kind: "ops", type, version, entries: parseEntries(reply.slice(3), from!) };
    const snapshotVersion = Number(reply[3]);
    const json = String(reply[4]);
    return { kind: "snapshot", type, version, snapshotVersion, snapshot: json === "" ? undefined : JSON.parse(json), entries: parseEntries(reply.slice(5), snapshotVersion) };
  }

  async append(request: DocAppendRequest): Promise<DocAppendOutcome> {
    const { tenant, docId } = request;
    const k = docKeys(this.keys, tenant, docId);
    const socketRoom = this.rooms.doc(tenant, docId);
    const keys = [k.scopeMeta, k.scopeMembers, k.meta, k.log, k.snapshot, k.scopeDocs];
    const { delivery } = this;
    const events = request.ops.map(({ entry }, i): DocOpEvent => ({ docId, version: request.version + i + 1, ...entry }));
    const frames = delivery && request.ops.map(({ exceptSocket }, i) => adapterFrame(delivery.uid, socketRoom, "doc:op", [events[i]], exceptSocket ? [exceptSocket] : []));
    const perOp = request.ops.flatMap(({ entry, memberRequired }, i) => {
      const onceIndex = entry.clientOpId === undefined ? 0 : keys.push(this.keys.docOnce(tenant, docId, entry.from.userId, entry.clientOpId));
      return [memberRequired ?? "", JSON.stringify(entry), onceIndex, frames?.[i]?.data ?? ""];
    });
    const reply = (await appendOps.run(this.redis, keys, [
      request.version,
      request.type,
      request.ops.length,
      request.snapshot?.version ?? 0,
      request.snapshot === undefined ? "" : JSON.stringify(request.snapshot.content),
      request.logKeep,
      request.onceTtlS,
      request.idleTtlS,
      docId,
      frames?.[0]?.channel ?? "",
      ...perOp,
    ])) as (string | number)[];
    const status = String(reply[0]);
    switch (status) {
      case "missing":
        return { status };
      case "forbidden":
        return { status, index: Number(reply[1]) - 1 };
      case "duplicate":
        return { status, index: Number(reply[1]) - 1, version: Number(reply[2]) };
      case "type":
        return { status, type: String(reply[1]) as DocType };
      case "stale":
        return { status, version: Number(reply[1]) };
      case "conflict":
        return { status, version: Number(reply[1]), entries: parseEntries(reply.slice(2), request.version) };
      case "appended":
        break;
      default:
        throw new Error(`unexpected append outcome ${status}`);
    }
    // The script published to the other nodes already.
    if (delivery) events.forEach((event, i) => delivery.local(socketRoom, "doc:op", [event], request.ops[i]!.exceptSocket));
    return { status: "appended", version: Number(reply[1]) };
  }

  async opVersion(tenant: string, docId: string, userId: string, clientOpId: string): Promise<number | undefined> {
    const version = await this.redis.get(this.keys.docOnce(tenant, docId, userId, clientOpId));
    return version === null ? undefined : Number(version);
  }

  async list(tenant: string, scope: DocScope): Promise<string[]> {
    const ids = (await this.redis.smembers(this.keys.scopeDocs(tenant, scope))).sort();
    if (ids.length === 0) return ids;
    // A room document can expire before the index does (another document kept it alive).
    const exists = await Promise.all(ids.map((id) => this.redis.exists(this.keys.docMeta(tenant, id))));
    return ids.filter((_, i) => exists[i] === 1);
  }
}

/** Log entries as stored (JSON without the version), numbered from `after + 1`. */
function parseEntries(raw: (string | number)[], after: number): DocOpEntry[] {
  return raw.map((json, i) => ({ version: after + i + 1, ...(JSON.parse(String(json)) as Omit<DocOpEntry, "version">) }));
}
