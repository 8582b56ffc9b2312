/**
 * Signing test tokens with jose, and a local JWKS endpoint for RS256/ES256 keys.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWK, type KeyLike } from "jose";

export const TEST_SECRET = "switchboard-test-secret-0123456789abcdef";

export interface TokenOptions {
  sub?: string;
  tenant?: string;
  roles?: readonly string[];
  name?: string;
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  issuer?: string;
  audience?: string;
  secret?: string;
  extra?: Record<string, unknown>;
}

export async function signToken(options: TokenOptions = {}): Promise<string> {
  const claims: Record<string, unknown> = { ...options.extra };
  if (options.tenant !== undefined) claims.tenant = options.tenant;
  if (options.roles !== undefined) claims.roles = options.roles;
  if (options.name !== undefined) claims.name = options.name;
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
  if (options.sub !== "") jwt.setSubject(options.sub ?? "u1");
  jwt.setExpirationTime(Math.floor(Date.now() / 1000) + (options.expiresIn ?? 3600));
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_SECRET));
}

export const serviceToken = (options: TokenOptions = {}) => signToken({ sub: "svc", roles: ["service"], ...options });

/** An unsigned token (`alg: none`), which every node must refuse. */
export function unsignedToken(sub = "u1"): string {
  const enc = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${enc({ alg: "none", typ: "JWT" })}.${enc({ sub, exp: Math.floor(Date.now() / 1000) + 3600 })}.`;
}

export interface JwksServer {
  url: string;
  sign(alg: "RS256" | "ES256", claims?: Record<string, unknown>, sub?: string): Promise<string>;
  /** The RS256 public key as PEM-less JWK, for algorithm-confusion tests. */
  publicJwk(alg: "RS256" | "ES256"): JWK;
  close(): Promise<void>;
}

export async function startJwksServer(): Promise<JwksServer> {
  const keys = new Map<string, { privateKey: KeyLike; jwk: JWK }>();
  for (const alg of ["RS256", "ES256"] as const) {
    const { privateKey, publicKey } = await generateKeyPair(alg);
    const jwk = { ...(await exportJWK(publicKey)), kid: `test-${alg}`, alg, use: "sig" };
    keys.set(alg, { privateKey, jwk });
  }
  const server: Server = createServer((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ keys: [...keys.values()].map((k) => k.jwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    async sign(alg, claims = {}, sub = "u1") {
      const key = keys.get(alg)!;
      return new SignJWT(claims)
        .setProtectedHeader({ alg, kid: key.jwk.kid! })
        .setSubject(sub)
        .setExpirationTime("1h")
        .sign(key.privateKey);
    },
    publicJwk: (alg) => keys.get(alg)!.jwk,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
