/**
 * Reading provider credentials from configuration values that are either a file path or the
 * content itself. A malformed credential becomes a PushCredentialError naming the variable,
 * so the provider is disabled with one warning instead of failing the node.
 */
import { readFileSync } from "node:fs";

export class PushCredentialError extends Error {
  override readonly name = "PushCredentialError";

  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable} ${reason}`);
  }
}

/** The value itself when it looks like inline content (`looksInline`), else the file it names. */
export function readCredential(variable: string, value: string, looksInline: (value: string) => boolean): string {
  if (looksInline(value)) return value;
  try {
    return readFileSync(value, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "read error";
    throw new PushCredentialError(variable, `names a file that cannot be read (${code})`);
  }
}

export const isPem = (value: string) => value.includes("-----BEGIN ");
export const isJsonObject = (value: string) => value.trimStart().startsWith("{");
