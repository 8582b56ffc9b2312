/**
 * socket.io-client helpers: connect and wait for the `session` event, expect a refusal, send a
 * command with an ack, wait for an event.
 */
import type { Session } from "@switchboard/shared";
import { io, type Socket } from "socket.io-client";
import { signToken, type TokenOptions } from "./tokens";

export type Client = Socket & { session?: Session };

export interface ConnectOptions {
  token?: string;
  tokenOptions?: TokenOptions;
  deviceId?: string;
  /** Send the token as `Authorization: Bearer` instead of `auth.token`. */
  bearer?: boolean;
  transports?: ("websocket" | "polling")[];
  reconnection?: boolean;
}

const open: Client[] = [];

function socketFor(url: string, token: string | undefined, options: ConnectOptions): Client {
  const auth: Record<string, string> = {};
  if (token && !options.bearer) auth.token = token;
  if (options.deviceId) auth.deviceId = options.deviceId;
  const socket = io(url, {
    auth,
    extraHeaders: options.bearer && token ? { authorization: `Bearer ${token}` } : undefined,
    transports: options.transports ?? ["websocket"],
    reconnection: options.reconnection ?? false,
    forceNew: true,
    timeout: 5000,
  }) as Client;
  open.push(socket);
  return socket;
}

/** Connects and resolves once the server's `session` event arrived. */
export async function connect(url: string, options: ConnectOptions = {}): Promise<Client> {
  const token = options.token ?? (await signToken(options.tokenOptions));
  const socket = socketFor(url, token, options);
  return new Promise((resolve, reject) => {
    socket.once("session", (session: Session) => {
      socket.session = session;
      resolve(socket);
    });
    socket.once("connect_error", (err: Error & { data?: unknown }) => {
      socket.close();
      reject(Object.assign(new Error(`connect_error ${err.message}`), { data: err.data }));
    });
  });
}

export interface Refusal {
  message: string;
  data?: { code: string; message: string };
}

/** Connects expecting a refusal; resolves with the connect_error. */
export async function connectRefused(url: string, options: ConnectOptions & { noToken?: boolean } = {}): Promise<Refusal> {
  const token = options.noToken ? undefined : (options.token ?? (await signToken(options.tokenOptions)));
  const socket = socketFor(url, token, options);
  return new Promise((resolve, reject) => {
    socket.once("session", () => {
      socket.close();
      reject(new Error("connection was accepted"));
    });
    socket.once("connect_error", (err: Error & { data?: Refusal["data"] }) => {
      socket.close();
      resolve({ message: err.message, data: err.data });
    });
  });
}

export interface AckResult {
  ok: boolean;
  error?: { code: string; message: string; details?: unknown };
  [key: string]: unknown;
}

export function command(socket: Socket, event: string, payload?: unknown, timeoutMs = 5000): Promise<AckResult> {
  const args = payload === undefined ? [] : [payload];
  return socket.timeout(timeoutMs).emitWithAck(event, ...args) as Promise<AckResult>;
}

export function nextEvent<T = unknown>(socket: Socket, event: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, on);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (value: T) => {
      clearTimeout(timer);
      resolve(value);
    };
    socket.once(event, on);
  });
}

/** Closes every client opened through these helpers. */
export function closeClients(): void {
  while (open.length) open.pop()!.close();
}
