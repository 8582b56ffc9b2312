/**
 * Network plumbing the providers share: which CAs to trust, and an HTTPS agent that sends every
 * request to one fixed origin (how FCM_API_URL is implemented, since firebase-admin hard-codes
 * Google's hosts).
 */
import https from "node:https";
import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";

export interface PushTransportOptions {
  /**
   * Extra CA certificates (PEM) to trust on top of Node's own roots. Meant for in-process tests,
   * where NODE_EXTRA_CA_CERTS cannot be set after start; a node process trusts a private CA
   * through NODE_EXTRA_CA_CERTS instead.
   */
  extraCa?: string | Buffer;
  /** How long one provider request may take before it counts as a (retryable) failure. */
  requestTimeoutMs?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** The CA list for a TLS client: undefined (Node's defaults) unless extra CAs were given. */
export function trustedCa(options: PushTransportOptions): string[] | undefined {
  if (options.extraCa === undefined) return undefined;
  // Passing `ca` replaces Node's trust store, so the bundled roots are listed again next to the
  // extra CA. (NODE_EXTRA_CA_CERTS certificates are not in tls.rootCertificates: use one way or
  // the other, not both.)
  return [...tls.rootCertificates, options.extraCa.toString()];
}

/**
 * An https.Agent whose connections all go to `target` (host and port), whatever host the
 * request names. TLS verifies the certificate against the target's host name, so a proxy or a
 * local test endpoint needs a certificate for its own name, not for googleapis.com. An `http:`
 * target gets plain TCP (a local proxy without TLS).
 */
export class RedirectingAgent extends https.Agent {
  private readonly host: string;
  private readonly port: number;
  private readonly plain: boolean;

  constructor(target: URL, options: https.AgentOptions = {}) {
    super({ keepAlive: true, ...options });
    this.plain = target.protocol === "http:";
    this.host = target.hostname.replace(/^\[|\]$/g, "");
    this.port = Number(target.port || (this.plain ? 80 : 443));
  }

  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    // Like Node's own createConnection: return the socket and never call back as well
    // (http.Agent treats a returned socket as created).
    if (this.plain) return net.connect({ host: this.host, port: this.port });
    // SNI may not carry an IP address (RFC 6066); with no servername, Node checks the
    // certificate against `host`.
    const servername = net.isIP(this.host) ? "" : this.host;
    return super.createConnection({ ...options, host: this.host, port: this.port, servername }, callback);
  }
}
