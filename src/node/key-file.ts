// The deployment's secret defense key on disk: created once (32 random bytes, hex, mode 0600), then read
// by `serve` and every worker, so all of them (and every replica given the same file) answer alike.
// Errors name the file, never its content.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { isKeyHex, MIN_KEY_BYTES } from "../defenses/keyed.js";
import { FileError, fileErrorKind } from "./errors.js";

export const KEY_FILE_NAME = "defense.key";
const NEW_KEY_BYTES = 32;

export function defaultKeyFile(cacheDir: string): string {
  return join(cacheDir, KEY_FILE_NAME);
}

/** The key in `path` (hex, surrounding whitespace ignored). Throws naming the file if it is missing or not a key. */
export function readKeyFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new FileError(path, `key file ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, fileErrorKind(e));
  }
  const key = text.trim();
  if (!isKeyHex(key)) throw new FileError(path, `key file ${path}: not a key (expected one line of hex, at least ${MIN_KEY_BYTES} bytes)`);
  return key;
}

export interface KeyFile {
  readonly path: string;
  readonly created: boolean;
  /** Set when group or others may read the file. */
  readonly warning?: string;
}

/** mkdir -p, one level at a time (Node's recursive mkdir spins forever under /proc). */
function makeDirectories(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d) && dirname(d) !== d; d = dirname(d)) missing.unshift(d);
  for (const d of missing) mkdirSync(d, { mode: 0o700 });
}

/** Reads the key file at `path`, creating it (and its directory, mode 0700) with a fresh key when missing. */
export function ensureKeyFile(path: string): KeyFile {
  let created = false;
  try {
    makeDirectories(dirname(path));
    // "wx": if two replicas start at once, one creates the file and the other reads it.
    writeFileSync(path, randomBytes(NEW_KEY_BYTES).toString("hex") + "\n", { mode: 0o600, flag: "wx" });
    created = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new FileError(path, `key file ${path}: cannot create it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, fileErrorKind(e));
    }
  }
  readKeyFile(path);
  const exposed = (statSync(path).mode & 0o077) !== 0;
  return { path, created, warning: exposed ? `key file ${path} is readable by other users: chmod 600 it` : undefined };
}
