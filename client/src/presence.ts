/**
 * Presence: watch users and keep the newest Presence of each (the larger `rev` wins, since updates
 * travel through different nodes). Watches end with a connection; the SDK watches again after
 * every reconnect and reports what changed meanwhile.
 */
import type { Presence as PresenceInfo, PresenceSetPayload } from "@switchboard/shared";
import type { Client } from "./client.js";
import { Emitter } from "./emitter.js";

export interface PresenceEvents {
  /** A newer presence of a watched user (or of a member of a joined room). */
  update: (presence: PresenceInfo) => void;
}

const CHUNK = 100;

export class Presence extends Emitter<PresenceEvents> {
  /** Users watched; watched again after each reconnect. */
  readonly watched = new Set<string>();
  private readonly known = new Map<string, PresenceInfo>();

  constructor(private readonly client: Client) {
    super();
  }

  /** The newest presence seen of a user. */
  get(userId: string): PresenceInfo | undefined {
    return this.known.get(userId);
  }

  /** Watches users (waiting for a connection if there is none); resolves with their presence. */
  watch(userIds: readonly string[]): Promise<Record<string, PresenceInfo>> {
    for (const id of userIds) this.watched.add(id);
    this.client.subs.add(this);
    return this.client.whenLive(() => this.send(userIds));
  }

  async unwatch(userIds: readonly string[]): Promise<void> {
    for (const id of userIds) this.watched.delete(id);
    for (let i = 0; i < userIds.length; i += CHUNK) await this.client.request("presence:unwatch", { userIds: userIds.slice(i, i + CHUNK) });
  }

  /** Sets this user's status (kept by the server across disconnects). */
  async set(status: PresenceSetPayload["status"], message?: string): Promise<void> {
    await this.client.request("presence:set", message === undefined ? { status } : { status, message });
  }

  /** Asks for users' presence once, without watching. */
  async query(userIds: readonly string[]): Promise<Record<string, PresenceInfo>> {
    const { presence } = await this.client.request("presence:get", { userIds: [...userIds] });
    for (const p of Object.values(presence)) this.receive(p);
    return presence;
  }

  /** @internal */
  restore(): Promise<unknown> {
    return this.send([...this.watched]);
  }

  /** @internal Keeps the update when it is newer than what is known. */
  receive(presence: PresenceInfo): void {
    const known = this.known.get(presence.userId);
    if (known && known.rev >= presence.rev) return;
    this.known.set(presence.userId, presence);
    this.emit("update", presence);
  }

  private async send(userIds: readonly string[]): Promise<Record<string, PresenceInfo>> {
    const all: Record<string, PresenceInfo> = {};
    const ids = [...new Set(userIds)];
    for (let i = 0; i < ids.length; i += CHUNK) {
      const { presence } = await this.client.call("presence:watch", { userIds: ids.slice(i, i + CHUNK) });
      Object.assign(all, presence);
    }
    for (const p of Object.values(all)) this.receive(p);
    return all;
  }
}
