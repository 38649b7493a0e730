import { loadModule, parseSync } from '@pgsql/parser';

/**
 * Statements the engine cannot survive, found in SQL text before the engine sees it. Decided by
 * PostgreSQL 17's own grammar (libpg_query, the parser the migration runner uses), not by a
 * pattern, so comments, quoting, case and multi-statement strings are read as the engine reads
 * them. Measured on this build:
 * - COPY ... FROM STDIN makes the engine read from a client it has no access to: WebAssembly
 *   "unreachable", and the engine (and every later client) is gone.
 * - COPY ... FROM/TO '/dev/blob' is PGlite's in-process device; from a wire client it leaves a
 *   portal the session cannot drop.
 * - A client_encoding other than UTF8 makes every later statement fail in a conversion function
 *   this build does not have, including the one that would set it back.
 * COPY inside functions and DO blocks needs no check: the engine refuses it there itself.
 */

export interface Refusal {
  code: string;
  message: string;
}

const COPY_FROM_STDIN: Refusal = { code: '0A000', message: 'COPY FROM STDIN is not supported by the embedded engine: use INSERT, or COPY on a PostgreSQL server' };
const COPY_BLOB: Refusal = { code: '0A000', message: "COPY with '/dev/blob' works only inside the process that runs the embedded engine" };
const ENCODING: Refusal = { code: '0A000', message: 'the embedded engine converts no encodings: client_encoding must stay UTF8' };

let loaded: Promise<void> | undefined;

/** Every node of a parse tree named `kind`, at any depth. */
function* nodes(tree: unknown, kind: string): Generator<Record<string, unknown>> {
  if (Array.isArray(tree)) {
    for (const item of tree) yield* nodes(item, kind);
  } else if (tree && typeof tree === 'object') {
    for (const [key, value] of Object.entries(tree)) {
      if (key === kind && value && typeof value === 'object') yield value as Record<string, unknown>;
      yield* nodes(value, kind);
    }
  }
}

/** The text of a string constant or name node (`{ A_Const: { sval } }`, `{ String: { sval } }`), if it is one. */
function stringConstant(node: unknown): string | undefined {
  const n = node as { A_Const?: { sval?: { sval?: string } }; String?: { sval?: string } } | undefined;
  return n?.A_Const?.sval?.sval ?? n?.String?.sval;
}

const isUtf8 = (value: string | undefined) => value !== undefined && /^(utf-?8|unicode)$/i.test(value);

function refusalIn(sql: string): Refusal | undefined {
  let tree: unknown;
  try {
    tree = parseSync(sql);
  } catch {
    // Not valid SQL to PostgreSQL 17's grammar: the engine refuses it as a syntax error too.
    return undefined;
  }
  for (const copy of nodes(tree, 'CopyStmt')) {
    if (copy.filename === '/dev/blob') return COPY_BLOB;
    if (copy.is_from === true && copy.filename === undefined && copy.is_program !== true) return COPY_FROM_STDIN;
  }
  // ALTER SYSTEM/DATABASE/ROLE ... SET hold theirs under `setstmt`, without the node name.
  // Setting names are case-insensitive, also when quoted.
  for (const set of [...nodes(tree, 'VariableSetStmt'), ...nodes(tree, 'setstmt')]) {
    if (String(set.name).toLowerCase() !== 'client_encoding' || set.kind !== 'VAR_SET_VALUE') continue;
    if (!isUtf8(stringConstant((set.args as unknown[] | undefined)?.[0]))) return ENCODING;
  }
  // set_config('client_encoding', ...) with the name written out; a name computed at run time is not seen.
  for (const call of nodes(tree, 'FuncCall')) {
    const name = (call.funcname as unknown[] | undefined)?.map(stringConstant).at(-1);
    const args = (call.args as unknown[] | undefined) ?? [];
    if (name?.toLowerCase() === 'set_config' && stringConstant(args[0])?.toLowerCase() === 'client_encoding' && !isUtf8(stringConstant(args[1]))) return ENCODING;
  }
  return undefined;
}

/**
 * With standard_conforming_strings off, a backslash escapes a quote in '...' too. The same text
 * with `\'` written as `''` (and `\\` as two other characters) has, under the grammar's default,
 * the token boundaries the engine would see then; both readings are checked, as the setting is
 * not known here.
 */
function withBackslashEscapes(sql: string): string {
  return sql.replace(/\\[\\']/g, (pair) => (pair === "\\'" ? "''" : '__'));
}

/**
 * Words a refused statement cannot be written without: the keyword COPY, NAMES, set_config, the
 * setting's name, or U&"...", which can spell a name without its letters (set_config's argument
 * may be any string, so set_config itself is the word there). Keywords cannot be escaped or
 * split, so text without these is never parsed here (about 2 µs for a short query).
 */
const WORDS = /copy|client_encoding|names|set_config|u&"/i;

/** Whether `sql` must go through refuseStatement(); latin1 keeps every byte as one character. */
export function mayNeedRefusal(sql: Buffer): boolean {
  return WORDS.test(sql.toString('latin1'));
}

/** Why the engine must not run `sql` (the text of a Query or Parse message), or undefined. */
export async function refuseStatement(sql: Buffer): Promise<Refusal | undefined> {
  if (!mayNeedRefusal(sql)) return undefined;
  loaded ??= loadModule();
  await loaded;
  const text = sql.toString('utf8');
  return refusalIn(text) ?? (text.includes('\\') ? refusalIn(withBackslashEscapes(text)) : undefined);
}
