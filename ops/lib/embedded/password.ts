import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { OpsError } from '../errors.js';
import { rememberSecret } from '../secrets.js';

/** A password nobody has to type: 192 random bits, letters, digits, `-` and `_` (URL- and shell-safe). */
export function randomPassword(): string {
  return randomBytes(24).toString('base64url');
}

/** The password in `file`, or undefined when there is none (or this user cannot read it). */
export async function readPasswordFile(file: string): Promise<string | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  const password = text?.trim();
  rememberSecret(password);
  return password ? password : undefined;
}

/**
 * The password `local serve` requires, made on its first start and kept in `file` (0600, only
 * the owner reads it): clients need the password itself, so it is stored, not only a verifier.
 */
export async function ensurePasswordFile(file: string): Promise<string> {
  try {
    // wx: never overwrite a password someone already uses.
    await writeFile(file, `${randomPassword()}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new OpsError('ENGINE', `cannot write the server's password file ${file}: ${(error as Error).message}`, { cause: error });
  }
  // A copy made with looser permissions (cp, an old version) is tightened before it is used.
  await chmod(file, 0o600).catch(() => {});
  const password = await readPasswordFile(file);
  if (!password) throw new OpsError('ENGINE', `the server's password file ${file} is empty or unreadable: delete it and start again to get a new password`);
  return password;
}
