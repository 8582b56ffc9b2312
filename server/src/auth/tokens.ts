/**
 * JWT verification with jose: HS256 with the configured secret, RS256/ES256 through a JWKS URL.
 * `exp` and `sub` are required, `iss`/`aud` checked when configured, and an algorithm the
 * configuration does not allow (including `none`) is refused.
 */
import { createSecretKey, type KeyObject } from "node:crypto";
import { AppError, DEFAULT_TENANT, tokenClaims } from "@switchboard/shared";
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, SignJWT, type JWTPayload, type JWTVerifyGetKey } from "jose";

export interface Principal {
  userId: string;
  tenant: string;
  name?: string;
  roles: string[];
  /** Seconds since the epoch. */
  exp: number;
}

export interface TokenVerifierOptions {
  secret?: Uint8Array;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
}

export const ROLE_SERVICE = "service";
export const ROLE_ADMIN = "admin";

const SECRET_ALGORITHMS = ["HS256"];
/** The claims as they are checked: options baked in (joi merges options given to validate() on every call). */
const CLAIMS = tokenClaims.prefs({ convert: false });
const JWKS_ALGORITHMS = ["RS256", "ES256"];

export class TokenVerifier {
  private readonly jwks?: JWTVerifyGetKey;
  /** The HS256 key, made once (given the raw secret, jose would make a key object per token). */
  private readonly secretKey?: KeyObject;

  constructor(private readonly options: TokenVerifierOptions) {
    if (options.jwksUrl) this.jwks = createRemoteJWKSet(new URL(options.jwksUrl), { cooldownDuration: 30_000 });
    if (options.secret) this.secretKey = createSecretKey(options.secret);
  }

  /** Verifies a token and returns who it speaks for. Throws AppError UNAUTHORIZED / TOKEN_EXPIRED. */
  async verify(token: string | undefined): Promise<Principal> {
    if (!token) throw new AppError("UNAUTHORIZED", "a token is required");
    let payload: JWTPayload;
    try {
      payload = await this.verifySignature(token);
    } catch (err) {
      throw this.refusal(token, err);
    }
    const { value, error } = CLAIMS.validate(payload);
    if (error) throw new AppError("UNAUTHORIZED", `the token's claims are not accepted: ${error.message}`);
    const claims = value as { sub: string; exp: number; name?: string; tenant?: string; roles?: string[] };
    return {
      userId: claims.sub,
      tenant: claims.tenant ?? DEFAULT_TENANT,
      name: claims.name,
      roles: claims.roles ?? [],
      exp: claims.exp,
    };
  }

  /**
   * The token's payload once its signature, algorithm and registered claims are checked. With a
   * secret only, jose refuses any other algorithm itself, and the header is decoded once; with a
   * key set the header's `alg` picks the key.
   */
  private async verifySignature(token: string): Promise<JWTPayload> {
    const common = { issuer: this.options.issuer, audience: this.options.audience, requiredClaims: ["exp", "sub"] };
    const alg = this.jwks || !this.secretKey ? decodeProtectedHeader(token).alg : "HS256";
    const key = this.keyFor(alg);
    if (key === "secret") return (await jwtVerify(token, this.secretKey!, { ...common, algorithms: SECRET_ALGORITHMS })).payload;
    if (key === "jwks") return (await jwtVerify(token, this.jwks!, { ...common, algorithms: JWKS_ALGORITHMS })).payload;
    throw this.algorithmRefused(alg);
  }

  /** Which of the configured keys checks a token signed with `alg`; none for an algorithm not accepted here. */
  private keyFor(alg: string | undefined): "secret" | "jwks" | undefined {
    if (alg === "HS256" && this.secretKey) return "secret";
    if (this.jwks && alg !== undefined && JWKS_ALGORITHMS.includes(alg)) return "jwks";
    return undefined;
  }

  /** Why a token was refused, as the protocol's code and message. */
  private refusal(token: string, err: unknown): AppError {
    if (err instanceof AppError) return err;
    if (err instanceof errors.JWTExpired) return new AppError("TOKEN_EXPIRED", "the token has expired");
    if (err instanceof errors.JWTClaimValidationFailed) return new AppError("UNAUTHORIZED", `the token's ${err.claim} claim is not accepted`);
    if (err instanceof errors.JOSEError && err.code === "ERR_JWKS_TIMEOUT") return new AppError("UNAVAILABLE", "the key set could not be fetched");
    // The header tells a token that is not a JWS from one signed with an algorithm not accepted here.
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      return new AppError("UNAUTHORIZED", "the token is malformed");
    }
    if (!this.keyFor(alg)) return this.algorithmRefused(alg);
    return new AppError("UNAUTHORIZED", "the token is not valid");
  }

  private algorithmRefused(alg: string | undefined): AppError {
    return new AppError("UNAUTHORIZED", `tokens signed with ${alg ?? "no algorithm"} are not accepted`);
  }
}

export function hasRole(principal: Principal, role: string): boolean {
  return principal.roles.includes(role);
}

/** The token of an `Authorization: Bearer <token>` header, if there is one. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

export interface IssueOptions {
  userId: string;
  name?: string;
  tenant?: string;
  roles?: string[];
  ttlS: number;
  issuer?: string;
  audience?: string;
}

/** Signs an HS256 token this node's verifier accepts (development token minting). */
export function issueToken(secret: Uint8Array, options: IssueOptions): Promise<string> {
  const claims: JWTPayload = {};
  if (options.name !== undefined) claims.name = options.name;
  if (options.tenant !== undefined) claims.tenant = options.tenant;
  if (options.roles !== undefined) claims.roles = options.roles;
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(options.userId)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + options.ttlS);
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(secret);
}
