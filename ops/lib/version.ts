import { readFileSync } from 'node:fs';

/** This aetherlens-db's version (package.json), recorded in manifests and printed by --version. */
export const AETHERLENS_VERSION = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();
