/**
 * The client SDK (@switchboard/client) in tests: clients with test tokens and quick back-off,
 * closed together; waiting for a state or a number of events.
 */
import { createClient, type Client, type ClientOptions, type ConnectionState } from "@switchboard/client";
import { waitFor } from "./ports";
import { signToken, type TokenOptions } from "./tokens";

const open: Client[] = [];

export interface SdkOptions extends Omit<ClientOptions, "url"> {
  tokenOptions?: TokenOptions;
}

/** A client with websocket transport, no storage, quick back-off; `token` signed from tokenOptions unless given. */
export async function sdkClient(url: string | string[], options: SdkOptions = {}): Promise<Client> {
  const { tokenOptions, ...rest } = options;
  const token = rest.token ?? (rest.getToken ? undefined : await signToken(tokenOptions));
  const client = createClient({
    url,
    transports: ["websocket"],
    storage: null,
    reconnect: { minDelayMs: 100, maxDelayMs: 1000 },
    connectTimeoutMs: 5000,
    ackTimeoutMs: 5000,
    ...rest,
    token,
  });
  open.push(client);
  return client;
}

/** Resolves once the client is in `state` (now or later). */
export function reach(client: Client, state: ConnectionState, timeoutMs = 10000): Promise<void> {
  if (client.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`client did not reach ${state} within ${timeoutMs} ms (it is ${client.state}, last error ${client.lastError})`));
    }, timeoutMs);
    const off = client.on("state", (now) => {
      if (now !== state) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

/** Waits until `list` has at least `count` entries. */
export function collected<T>(list: T[], count: number, timeoutMs = 10000, what = "events"): Promise<T[]> {
  return waitFor(() => (list.length >= count ? list : undefined), timeoutMs, `${count} ${what}`, 20);
}

export function closeSdkClients(): void {
  while (open.length) open.pop()!.close();
}
