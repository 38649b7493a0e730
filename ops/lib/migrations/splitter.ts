import { parse, scan } from '@pgsql/parser';

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

/** The scanner reports UTF-8 byte offsets; strings index UTF-16 code units. */
function byteToCharOffsets(text: string): (byteOffset: number) => number {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length === text.length) return (b) => b;
  return (b) => bytes.subarray(0, b).toString('utf8').length;
}

export function lineAt(text: string, offset: number): { line: number; column: number; lineText: string } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = text.indexOf('\n', offset);
  return { line, column: offset - lineStart + 1, lineText: text.slice(lineStart, lineEnd === -1 ? undefined : lineEnd) };
}

/**
 * Splits a file into statements with PostgreSQL's own scanner (dollar quotes, comments and
 * string literals are tokens, so a ';' inside them never splits), then parses each statement
 * with PostgreSQL's own grammar. Throws SqlSyntaxError with the line of the first bad statement.
 */
export async function splitStatements(text: string): Promise<Statement[]> {
  const toChar = byteToCharOffsets(text);
  const { tokens } = (await scan(text)) as { tokens: { start: number; end: number; text: string; tokenName: string }[] };
  const pieces: { start: number; end: number }[] = [];
  let start: number | undefined;
  for (const token of tokens) {
    if (token.tokenName === 'SQL_COMMENT' || token.tokenName === 'C_COMMENT') continue;
    if (token.text === ';') {
      if (start !== undefined) pieces.push({ start, end: toChar(token.end) });
      start = undefined;
    } else if (start === undefined) start = toChar(token.start);
  }
  if (start !== undefined) pieces.push({ start, end: text.length });

  const statements: Statement[] = [];
  for (const piece of pieces) {
    const sql = text.slice(piece.start, piece.end);
    let tree: { stmts?: { stmt: Record<string, unknown> }[] };
    try {
      tree = (await parse(sql)) as typeof tree;
    } catch (error) {
      const message = (error as Error).message;
      // Point at the token the parser named ("at or near X"), else at the statement's start.
      const near = /at or near "(.*)"$/.exec(message)?.[1];
      const inStatement = near === undefined ? -1 : sql.indexOf(near);
      const where = lineAt(text, piece.start + Math.max(inStatement, 0));
      throw new SqlSyntaxError(message, where.line, where.column, where.lineText);
    }
    const node = tree.stmts?.[0]?.stmt;
    if (!node) continue;
    statements.push({ sql, line: lineAt(text, piece.start).line, offset: piece.start, node });
  }
  return statements;
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
