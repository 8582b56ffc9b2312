/**
 * Where Web Push may send. A subscription endpoint is a URL that any user registers, and the node
 * POSTs to it: unchecked, that is a request from inside the network to wherever the user points
 * (SSRF), and 404/410 answers even show through the device's removal. So an endpoint must be an
 * https URL on a public host. Hosts listed in WEBPUSH_ALLOWED_HOSTS are exempt from the
 * public-address rule (a push service run on a private network, a local test service).
 *
 * Two checks:
 *   - at registration, the URL as written: https, and no IP literal outside public unicast
 *     space, no local-only host name (webPushEndpointProblem);
 *   - at send time, every address the host name resolves to, inside the https agent's `lookup`
 *     (guardedLookup). The connection goes to an address that lookup returned, so a second DNS
 *     answer between check and connect (DNS rebinding) cannot slip through.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import type { LookupAddress, LookupOptions } from "node:dns";
import net from "node:net";
import ipaddr from "ipaddr.js";

/** Resolves a host name to all of its addresses. */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true });

/** The endpoint may not be sent to; no request left the node. */
export class EndpointRefusedError extends Error {
  override readonly name = "EndpointRefusedError";
}

// IANA's global unicast block: IPv6 outside it (::/8, 100::/8, …) is not routed on the internet.
const IPV6_GLOBAL_UNICAST = ipaddr.parseCIDR("2000::/3");

/**
 * Why `address` (an IP address in standard notation) is not a public unicast address — its
 * ipaddr.js range name such as `loopback`, `private`, `linkLocal`, `uniqueLocal`,
 * `carrierGradeNat`, `multicast`, `unspecified`, `reserved` — or undefined when it is public.
 * An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is judged as the IPv4 address it carries.
 */
export function nonPublicRange(address: string): string | undefined {
  if (net.isIP(address) === 0) return "invalid";
  let ip = ipaddr.parse(address);
  if (ip instanceof ipaddr.IPv6 && ip.isIPv4MappedAddress()) ip = ip.toIPv4Address();
  const range = ip.range();
  if (range !== "unicast") return range;
  if (ip instanceof ipaddr.IPv6 && !ip.match(IPV6_GLOBAL_UNICAST)) return "reserved";
  return undefined;
}

export const isPublicAddress = (address: string): boolean => nonPublicRange(address) === undefined;

/** A host as compared with WEBPUSH_ALLOWED_HOSTS: lower case, no brackets, no trailing dot, addresses in one notation. */
export function normalizeHost(host: string): string {
  const bare = host.toLowerCase().replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");
  return net.isIP(bare) ? ipaddr.parse(bare).toString() : bare;
}

/** Names that only ever mean a machine of the local network (RFC 6761, 6762, 8375, ICANN's .internal). */
const LOCAL_SUFFIXES = [".localhost", ".local", ".localdomain", ".internal", ".home.arpa"];

function localName(host: string): boolean {
  // a single label (`localhost`, `redis`, `metadata`) is completed by the resolver's search domains
  return !host.includes(".") || LOCAL_SUFFIXES.some((suffix) => host.endsWith(suffix));
}

export class WebPushEndpointPolicy {
  private readonly allowed: Set<string>;

  /** `allowedHosts`: WEBPUSH_ALLOWED_HOSTS, host names or addresses exempt from the public-address rule. */
  constructor(allowedHosts: readonly string[] = []) {
    this.allowed = new Set(allowedHosts.map(normalizeHost));
  }

  isAllowed(host: string): boolean {
    return this.allowed.has(normalizeHost(host));
  }

  /**
   * Why `endpoint` may not be used, or undefined when it may. Checks the URL as the WHATWG parser
   * reads it, which turns odd IPv4 spellings (2130706433, 0x7f.1, 127.1) into dotted quads.
   */
  problem(endpoint: string): string | undefined {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      return "is not a valid URL";
    }
    if (url.protocol !== "https:") return "must be an https URL";
    const host = normalizeHost(url.hostname);
    if (this.allowed.has(host)) return undefined;
    if (net.isIP(host)) {
      const range = nonPublicRange(host);
      return range === undefined ? undefined : `must be on a public host: ${host} is not a public address (${range})`;
    }
    if (localName(host)) return `must be on a public host: ${host} is a local host name`;
    return undefined;
  }

  /**
   * A `lookup` for the https agent that sends Web Push: it resolves the name, refuses (with an
   * EndpointRefusedError) when ANY of its addresses is not public unless the host is allowed, and
   * hands the connection only addresses it checked. Node skips `lookup` for IP literals:
   * problem() covers those before the request is made.
   */
  lookup(resolve: Resolver = systemResolver): net.LookupFunction {
    return (hostname, options: LookupOptions, callback) => {
      resolve(hostname)
        .then((addresses) => {
          if (!this.isAllowed(hostname)) {
            for (const { address } of addresses) {
              const range = nonPublicRange(address);
              if (range !== undefined) throw new EndpointRefusedError(`${hostname} resolves to ${address}, not a public address (${range})`);
            }
          }
          const family = options.family === "IPv4" ? 4 : options.family === "IPv6" ? 6 : options.family;
          const usable = family === 4 || family === 6 ? addresses.filter((a) => a.family === family) : addresses;
          if (usable.length === 0) {
            throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND", hostname });
          }
          if (options.all) callback(null, usable);
          else callback(null, usable[0]!.address, usable[0]!.family);
        })
        .catch((err: NodeJS.ErrnoException) => callback(err, ""));
    };
  }
}
