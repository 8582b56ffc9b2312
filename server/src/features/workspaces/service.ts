/**
 * Workspaces: who belongs (services manage membership), who may enter the workspace's room
 * (members only), and the events of the room — a member's device joined or left, an update
 * from a service, REST or the emitter. Socket commands and REST routes both call this service.
 */
import { randomUUID } from "node:crypto";
import {
  AppError,
  agentRoom,
  tenantRoom,
  userRoom,
  workspaceRoom,
  workspaceUpdateEvent,
  type WorkspaceCreatePayload,
  type WorkspaceInfo,
  type WorkspaceJoinResult,
  type WorkspaceUpdateData,
  type WorkspaceUpdateEvent,
  type WorkspaceUser,
  type WorkspaceUserEvent,
} from "@switchboard/shared";
import { isPrivileged, requirePrivileged, type Actor } from "../../auth/actor";
import { subscribe } from "../../connections/subscriptions";
import type { Engine, WorkspaceMemberRecord, WorkspaceRecord } from "../../engine";
import type { AppServer, AppSocket } from "../../io";

export interface WorkspaceServiceDeps {
  engine: Engine;
  io: AppServer;
  /** Subscriptions one socket may hold (MAX_SUBSCRIPTIONS_PER_SOCKET). */
  maxSubscriptionsPerSocket: number;
}

type StoredWorkspace = WorkspaceRecord & { memberCount: number };

/** Update types the server sends itself when membership changes. */
export const MEMBER_ADDED = "member_added";
export const MEMBER_REMOVED = "member_removed";

export class WorkspaceService {
  /** Sockets whose disconnect announces `workspace:user_left` for the workspaces they were in. */
  private readonly tracked = new WeakSet<AppSocket>();

  constructor(private readonly deps: WorkspaceServiceDeps) {}

  /** The Socket.IO room that carries a workspace's events. */
  socketRoom(tenant: string, workspaceId: string): string {
    return tenantRoom(tenant, workspaceRoom(workspaceId));
  }

  /** Services (and admins) create workspaces, with their first members. */
  async create(actor: Actor, input: WorkspaceCreatePayload): Promise<WorkspaceInfo> {
    requirePrivileged(actor, "create workspaces");
    const now = Date.now();
    const record: WorkspaceRecord = { tenant: actor.tenant, id: input.id ?? `ws-${randomUUID()}`, name: input.name, createdBy: actor.userId, createdAt: now };
    const members: WorkspaceMemberRecord[] = (input.members ?? []).map((userId) => ({ userId, addedAt: now }));
    if (!(await this.deps.engine.workspaces.create(record, members))) throw new AppError("CONFLICT", `workspace ${record.id} already exists`);
    return toInfo({ ...record, memberCount: members.length });
  }

  /**
   * The caller's workspaces. A service (or admin) lists every workspace of its tenant, or those
   * of `userId`; a user may ask only about themself.
   */
  async list(actor: Actor, userId?: string): Promise<WorkspaceInfo[]> {
    const { workspaces } = this.deps.engine;
    if (userId !== undefined && userId !== actor.userId && !isPrivileged(actor)) throw new AppError("FORBIDDEN", "a user lists only their own workspaces");
    const ids = userId === undefined && isPrivileged(actor) ? await workspaces.list(actor.tenant) : await workspaces.workspacesOf(actor.tenant, userId ?? actor.userId);
    const found = await Promise.all(ids.map((id) => workspaces.get(actor.tenant, id)));
    return found.filter((w): w is StoredWorkspace => w !== undefined).map(toInfo);
  }

  async info(actor: Actor, workspaceId: string): Promise<WorkspaceInfo> {
    return toInfo(await this.visible(actor, workspaceId));
  }

  /** Members with whether any of their devices is connected anywhere in the cluster. */
  async users(actor: Actor, workspaceId: string): Promise<WorkspaceUser[]> {
    await this.visible(actor, workspaceId);
    return this.userList(actor.tenant, workspaceId);
  }

  /** Adds a member (services and admins); the room hears `workspace:update` `member_added`. */
  async addMember(actor: Actor, workspaceId: string, userId: string): Promise<{ workspace: WorkspaceInfo; added: boolean }> {
    requirePrivileged(actor, "add workspace members");
    const workspace = await this.existing(actor.tenant, workspaceId);
    const outcome = await this.deps.engine.workspaces.addMember(actor.tenant, workspaceId, { userId, addedAt: Date.now() });
    if (outcome === "missing") throw notFound(workspaceId);
    const added = outcome === "added";
    if (added) this.emitUpdate(actor.tenant, workspaceId, MEMBER_ADDED, { userId });
    return { workspace: toInfo({ ...workspace, memberCount: workspace.memberCount + (added ? 1 : 0) }), added };
  }

  /**
   * Removes a member (services and admins, or the member themself). The room hears
   * `workspace:user_left` (`removed: true`) and `workspace:update` `member_removed`; then every
   * device of the user leaves the workspace's room and the rooms of its agents (but the agents
   * the user owns), on every node.
   */
  async removeMember(actor: Actor, workspaceId: string, userId: string): Promise<{ removed: boolean }> {
    if (userId !== actor.userId) requirePrivileged(actor, "remove other workspace members");
    await this.existing(actor.tenant, workspaceId);
    const { engine, io } = this.deps;
    const removed = await engine.workspaces.removeMember(actor.tenant, workspaceId, userId);
    if (!removed) return { removed };
    const room = this.socketRoom(actor.tenant, workspaceId);
    const left: WorkspaceUserEvent = { workspaceId, userId, removed: true, ts: Date.now() };
    io.to(room).emit("workspace:user_left", left);
    this.emitUpdate(actor.tenant, workspaceId, MEMBER_REMOVED, { userId });
    const agentIds = await engine.agents.agentsOf(actor.tenant, workspaceId);
    const agents = await Promise.all(agentIds.map((id) => engine.agents.get(actor.tenant, id)));
    const rooms = [room, ...agents.filter((a) => a && a.workspaceId === workspaceId && a.ownerId !== userId).map((a) => tenantRoom(actor.tenant, agentRoom(a!.id)))];
    for (const docId of await engine.docs.list(actor.tenant, { kind: "workspace", id: workspaceId })) rooms.push(engine.socketRooms.doc(actor.tenant, docId));
    io.in(tenantRoom(actor.tenant, userRoom(userId))).socketsLeave(rooms);
    return { removed };
  }

  /** Sends `workspace:update` to the workspace's room on every node (services and admins). */
  async update(actor: Actor, workspaceId: string, updateType: string, data?: WorkspaceUpdateData): Promise<WorkspaceUpdateEvent> {
    requirePrivileged(actor, "send workspace updates");
    await this.existing(actor.tenant, workspaceId);
    return this.emitUpdate(actor.tenant, workspaceId, updateType, data);
  }

  /**
   * Joins a member's socket to the workspace's room; the room's other sockets hear
   * `workspace:user_joined`. Joining again is a no-op that answers the same.
   */
  async join(actor: Actor, socket: AppSocket, workspaceId: string): Promise<WorkspaceJoinResult> {
    const workspace = await this.visible(actor, workspaceId);
    const room = this.socketRoom(actor.tenant, workspaceId);
    if (!socket.rooms.has(room)) {
      await subscribe(socket, room, this.deps.maxSubscriptionsPerSocket);
      this.track(socket);
      const joined: WorkspaceUserEvent = withName({ workspaceId, userId: actor.userId, deviceId: socket.data.deviceId, ts: Date.now() }, actor.name);
      this.deps.io.to(room).except(socket.id).emit("workspace:user_joined", joined);
    }
    return { workspace: toInfo(workspace), users: await this.userList(actor.tenant, workspaceId) };
  }

  /** The socket leaves the workspace's room; the room hears `workspace:user_left`. */
  async leave(actor: Actor, socket: AppSocket, workspaceId: string): Promise<void> {
    const room = this.socketRoom(actor.tenant, workspaceId);
    if (!socket.rooms.has(room)) {
      // Not in the room: say whether the workspace exists, as join would.
      await this.existing(actor.tenant, workspaceId);
      return;
    }
    this.announceLeft(socket, workspaceId, room);
    await socket.leave(room);
  }

  private emitUpdate(tenant: string, workspaceId: string, updateType: string, data?: WorkspaceUpdateData): WorkspaceUpdateEvent {
    const event = workspaceUpdateEvent(workspaceId, updateType, data, Date.now());
    this.deps.io.to(this.socketRoom(tenant, workspaceId)).emit("workspace:update", event);
    return event;
  }

  private announceLeft(socket: AppSocket, workspaceId: string, room: string): void {
    const { userId, deviceId, name } = socket.data;
    const left: WorkspaceUserEvent = withName({ workspaceId, userId, deviceId, ts: Date.now() }, name);
    this.deps.io.to(room).except(socket.id).emit("workspace:user_left", left);
  }

  /** A socket that disconnects announces it left every workspace room it was in. */
  private track(socket: AppSocket): void {
    if (this.tracked.has(socket)) return;
    this.tracked.add(socket);
    const prefix = this.socketRoom(socket.data.tenant, "");
    socket.on("disconnecting", () => {
      for (const room of socket.rooms) if (room.startsWith(prefix)) this.announceLeft(socket, room.slice(prefix.length), room);
    });
  }

  private async userList(tenant: string, workspaceId: string): Promise<WorkspaceUser[]> {
    const members = await this.deps.engine.workspaces.members(tenant, workspaceId);
    const devices = await Promise.all(members.map((m) => this.deps.engine.presence.devices(tenant, m.userId)));
    return members.map((m, i) => ({ userId: m.userId, online: devices[i]!.length > 0 }));
  }

  private async existing(tenant: string, workspaceId: string): Promise<StoredWorkspace> {
    const workspace = await this.deps.engine.workspaces.get(tenant, workspaceId);
    if (!workspace) throw notFound(workspaceId);
    return workspace;
  }

  /** Exists in the actor's tenant, and the actor is a member (or a service or admin). */
  private async visible(actor: Actor, workspaceId: string): Promise<StoredWorkspace> {
    const workspace = await this.existing(actor.tenant, workspaceId);
    if (!isPrivileged(actor) && !(await this.deps.engine.workspaces.isMember(actor.tenant, workspaceId, actor.userId))) {
      throw new AppError("FORBIDDEN", `only members of workspace ${workspaceId} may do this`);
    }
    return workspace;
  }
}

const notFound = (workspaceId: string) => new AppError("NOT_FOUND", `workspace ${workspaceId} does not exist`);

function toInfo(workspace: StoredWorkspace): WorkspaceInfo {
  const { id, name, createdBy, createdAt, memberCount } = workspace;
  return { id, name, createdBy, createdAt, memberCount };
}

function withName<T extends object>(value: T, name: string | undefined): T & { name?: string } {
  return name === undefined ? value : { ...value, name };
}
