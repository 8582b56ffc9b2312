/**
 * @switchboard/client: the Switchboard SDK for browsers and Node.
 *
 * ```ts
 * const client = createClient({ url: ["http://n1:3000", "http://n2:3000"], getToken: fetchToken });
 * const room = client.room("lobby");
 * room.on("message", (m) => render(m));
 * await room.join();
 * await room.publish({ text: "hi" });
 * ```
 */
import { io } from "socket.io-client";
import { Client, type ClientOptions } from "./client.js";

export function createClient(options: ClientOptions): Client {
  return new Client((url, opts) => (url === undefined ? io(opts) : io(url, opts)), options);
}

export * from "./types.js";
