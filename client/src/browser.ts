/**
 * The browser bundle's entry (an IIFE exposing `Switchboard`): socket.io-client is not bundled,
 * it is the global `io` that every node serves at /socket.io/socket.io.min.js.
 */
import type { io as ioType } from "socket.io-client";
import { Client, type ClientOptions } from "./client.js";

export function createClient(options: ClientOptions): Client {
  const io = (globalThis as { io?: typeof ioType }).io;
  if (typeof io !== "function") throw new Error("Switchboard: load /socket.io/socket.io.min.js before the SDK");
  return new Client((url, opts) => (url === undefined ? io(opts) : io(url, opts)), options);
}

export * from "./types.js";
