import { parse } from '@pgsql/parser';

/** One SQL statement of a file, with where it starts so errors can point at the right line. */
export interface Statement {
  sql: string;
  /** 1-based line of the statement's first character in the file. */
  line: number;
  /** Character offset of the statement in the file. */
  offset: number;
  /** The parse tree's top-level node, e.g. { CreateStmt: {...} }. */
  node: Record<string, unknown>;
}

/** A syntax error found before anything was sent to the server. */
export class SqlSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
    readonly lineText: string,
  ) {
    super(message);
  }
}

export function lineAt(text: string, offset: number): { line: number; column: number; lineText: string } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = text.indexOf('\n', offset);
  return { line, column: offset - lineStart + 1, lineText: text.slice(lineStart, lineEnd === -1 ? undefined : lineEnd) };
}

/** Skips whitespace and comments: a statement's location includes what precedes its first token. */
function firstTokenOffset(text: string, from: number, to: number): number {
  let i = from;
  while (i < to) {
    if (/\s/.test(text[i]!)) i++;
    else if (text.startsWith('--', i)) i = text.indexOf('\n', i) === -1 ? to : text.indexOf('\n', i) + 1;
    else if (text.startsWith('/*', i)) i = text.indexOf('*/', i) === -1 ? to : text.indexOf('*/', i) + 2;
    else break;
  }
  return i;
}

type ParseTree = { stmts?: { stmt: Record<string, unknown>; stmt_location?: number; stmt_len?: number }[] };

/**
 * Finds the statement a syntax error is in: the longest prefix ending at a ';' that parses holds
 * only good statements, so the bad one starts right after it. Runs only on the error path.
 */
async function locateSyntaxError(text: string, message: string): Promise<SqlSyntaxError> {
  let goodUntil = 0;
  for (let i = text.indexOf(';'); i !== -1; i = text.indexOf(';', i + 1)) {
    try {
      await parse(text.slice(0, i + 1));
      goodUntil = i + 1;
    } catch {
      // Not a statement boundary (inside a string or dollar quote), or past the error.
    }
  }
  const start = firstTokenOffset(text, goodUntil, text.length);
  const near = /at or near "(.*)"$/.exec(message)?.[1];
  const at = near === undefined ? -1 : text.indexOf(near, start);
  const where = lineAt(text, at === -1 ? start : at);
  return new SqlSyntaxError(message, where.line, where.column, where.lineText);
}

/**
 * Splits a file into statements with PostgreSQL's own grammar (libpg_query compiled to
 * WebAssembly): dollar quotes, comments and string literals are understood, never split.
 * Throws SqlSyntaxError with the line of the first bad statement.
 */
export async function splitStatements(text: string): Promise<Statement[]> {
  let tree: ParseTree;
  try {
    tree = (await parse(text)) as ParseTree;
  } catch (error) {
    throw await locateSyntaxError(text, (error as Error).message);
  }
  // Locations are UTF-8 byte offsets; strings index UTF-16 code units.
  const bytes = Buffer.from(text, 'utf8');
  const toChar = bytes.length === text.length ? (b: number) => b : (b: number) => bytes.subarray(0, b).toString('utf8').length;
  return (tree.stmts ?? []).map((entry) => {
    const from = toChar(entry.stmt_location ?? 0);
    const to = entry.stmt_len ? toChar((entry.stmt_location ?? 0) + entry.stmt_len) : text.length;
    const offset = firstTokenOffset(text, from, to);
    return { sql: text.slice(offset, to).trimEnd(), line: lineAt(text, offset).line, offset, node: entry.stmt };
  });
}

/**
 * Statements PostgreSQL or TimescaleDB refuse inside a transaction block: continuous aggregates
 * created WITH DATA, refresh_continuous_aggregate, CREATE/DROP/REINDEX ... CONCURRENTLY, VACUUM.
 */
export function mustRunOutsideTransaction(node: Record<string, unknown>): boolean {
  const [kind, body] = Object.entries(node)[0] as [string, Record<string, unknown>];
  switch (kind) {
    case 'CreateTableAsStmt': {
      const into = body.into as { options?: { DefElem?: { defnamespace?: string; defname?: string } }[]; skipData?: boolean } | undefined;
      const continuous = into?.options?.some((o) => o.DefElem?.defnamespace === 'timescaledb' && o.DefElem.defname === 'continuous');
      return Boolean(continuous) && !into?.skipData;
    }
    case 'CallStmt': {
      const names = ((body.funccall as { funcname?: { String?: { sval?: string } }[] })?.funcname ?? []).map((n) => n.String?.sval);
      return names.includes('refresh_continuous_aggregate');
    }
    case 'IndexStmt':
      return body.concurrent === true;
    case 'DropStmt':
    case 'ReindexStmt':
      return body.concurrent === true || (body.params as unknown[] | undefined)?.some((p) => JSON.stringify(p).includes('concurrently')) === true;
    case 'VacuumStmt':
      return true;
    default:
      return false;
  }
}
