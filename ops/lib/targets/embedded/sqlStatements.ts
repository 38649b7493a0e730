/**
 * A streaming splitter for plain SQL dumps: text goes in as it is read (any chunk size, any cut),
 * whole statements come out. It follows PostgreSQL's lexer where a statement can end: `;` outside
 * single-quoted strings ('' escapes; standard_conforming_strings is on in pg_dump's output),
 * E'' strings (backslash escapes too), double-quoted identifiers, dollar-quoted bodies ($$ and
 * $tag$), `--` comments and nested `/* *\/` comments. Whitespace and comments between statements
 * are dropped; a line starting with a backslash where a statement would start is a psql
 * meta-command (`\restrict`) and comes out as a statement of its own, without a `;`.
 *
 * Memory: the splitter holds the statement being read, never more, whatever the dump's size.
 */

const enum State {
  Normal,
  Quote,
  EscapeQuote,
  Ident,
  Dollar,
  LineComment,
  BlockComment,
  Meta,
}

const SEMICOLON = 0x3b;
const QUOTE = 0x27;
const DQUOTE = 0x22;
const DOLLAR = 0x24;
const DASH = 0x2d;
const SLASH = 0x2f;
const STAR = 0x2a;
const BACKSLASH = 0x5c;

/** 1 for the ASCII characters that can neither end a statement nor start a string, identifier, body or comment. */
const PLAIN = new Uint8Array(0x80).fill(1);
for (const c of `;'"$/-\\`) PLAIN[c.charCodeAt(0)] = 0;
const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);
/** A character that may start a dollar-quote tag (PostgreSQL's dolq_start). */
const isTagStart = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c >= 0x80;
/** A character that may continue an identifier or tag; `$` only in identifiers (ident_cont). */
const isTagCont = (c: number) => isTagStart(c) || (c >= 0x30 && c <= 0x39);
const isIdentCont = (c: number) => isTagCont(c) || c === DOLLAR;

/** What the text was inside when it ended: a dump cut off there is damaged. */
export class UnterminatedSqlError extends Error {}

const INSIDE: Record<State, string> = {
  [State.Normal]: '',
  [State.Quote]: 'a quoted string',
  [State.EscapeQuote]: "an E'' string",
  [State.Ident]: 'a quoted identifier',
  [State.Dollar]: 'a dollar-quoted body',
  [State.LineComment]: '',
  [State.BlockComment]: 'a /* comment',
  [State.Meta]: '',
};

export class SqlStatementSplitter {
  /** Text not scanned yet (with what the statement in progress holds of the current chunk). */
  private buf = '';
  /** Next character to look at in buf. */
  private i = 0;
  /**
   * Where the statement being read starts in buf: null between statements, -Infinity when it
   * started in an earlier chunk (its text so far is in `parts`).
   */
  private start: number | null = null;
  /** The statement's text from earlier chunks: kept as pieces, so a long statement is copied once. */
  private parts: string[] = [];
  /** The statement's last two characters before buf, for looking behind across a cut. */
  private behind = '';
  private state = State.Normal;
  private depth = 0;
  private tag = '';
  private ended = false;

  /** Adds text; returns the statements it completed, in order. */
  push(text: string): string[] {
    if (this.ended) throw new Error('SqlStatementSplitter: push after end');
    if (this.start !== null) {
      // What was scanned of the statement moves to parts; only the unscanned lookahead stays.
      const scanned = this.buf.slice(Math.max(0, this.start), this.i);
      if (scanned) {
        this.parts.push(scanned);
        this.behind = (this.behind + scanned).slice(-2);
      }
      this.start = -Infinity;
    }
    this.buf = this.buf.slice(this.i) + text;
    this.i = 0;
    return this.scan();
  }

  /** No more text: returns the last statement if it had no `;`; throws if the text ended inside a string, body or comment. */
  end(): string[] {
    this.ended = true;
    const out = this.scan();
    const inside = INSIDE[this.state];
    if (inside) throw new UnterminatedSqlError(`the SQL ends inside ${inside}`);
    if (this.start !== null) {
      const last = this.take(this.buf.length).trimEnd();
      if (last) out.push(last);
    }
    this.buf = '';
    this.i = 0;
    return out;
  }

  private begin(at: number): void {
    if (this.start === null) this.start = at;
  }

  /** The statement in progress up to (not including) buf[to]; ends it. */
  private take(to: number): string {
    const tail = this.buf.slice(Math.max(0, this.start ?? 0), to);
    const text = this.parts.length > 0 ? this.parts.join('') + tail : tail;
    this.start = null;
    this.parts = [];
    this.behind = '';
    return text;
  }

  /** The character at buf[k] of the statement in progress, looking behind buf if need be; 0 outside it. */
  private charAt(k: number): number {
    if (this.start === null || k < this.start) return 0;
    if (k >= 0) return this.buf.charCodeAt(k);
    const at = this.behind.length + k;
    return at >= 0 ? this.behind.charCodeAt(at) : 0;
  }

  private scan(): string[] {
    const out: string[] = [];
    const buf = this.buf;
    const n = buf.length;
    const more = !this.ended;
    let i = this.i;
    scan: while (i < n) {
      switch (this.state) {
        case State.Normal: {
          if (this.start !== null) {
            // Inside a statement, a run of characters that start nothing changes nothing.
            let c = buf.charCodeAt(i);
            while (c >= 0x80 || PLAIN[c] === 1) {
              if (++i >= n) break scan;
              c = buf.charCodeAt(i);
            }
          }
          const c = buf.charCodeAt(i);
          if (isSpace(c)) {
            i++;
          } else if (c === SEMICOLON) {
            if (this.start !== null) out.push(this.take(i + 1));
            i++;
          } else if (c === QUOTE) {
            this.begin(i);
            // E'...' (either case) when the E is a token of its own, not the end of an identifier.
            const e = this.charAt(i - 1);
            const beforeE = this.charAt(i - 2);
            this.state = (e === 0x45 || e === 0x65) && !isIdentCont(beforeE) ? State.EscapeQuote : State.Quote;
            i++;
          } else if (c === DQUOTE) {
            this.begin(i);
            this.state = State.Ident;
            i++;
          } else if (c === DASH || c === SLASH) {
            if (i + 1 >= n) {
              if (more) break scan;
              this.begin(i);
              i++;
              continue;
            }
            const next = buf.charCodeAt(i + 1);
            if (c === DASH && next === DASH) {
              this.state = State.LineComment;
              i += 2;
            } else if (c === SLASH && next === STAR) {
              this.state = State.BlockComment;
              this.depth = 1;
              i += 2;
            } else {
              this.begin(i);
              i++;
            }
          } else if (c === DOLLAR) {
            this.begin(i);
            // A `$` inside an identifier (a$b) or a parameter ($1) starts no body.
            if (isIdentCont(this.charAt(i - 1))) {
              i++;
              continue;
            }
            let j = i + 1;
            if (j < n && isTagStart(buf.charCodeAt(j))) {
              j++;
              while (j < n && isTagCont(buf.charCodeAt(j))) j++;
            }
            if (j >= n) {
              if (more) break scan;
              i++;
              continue;
            }
            if (buf.charCodeAt(j) === DOLLAR) {
              this.tag = buf.slice(i, j + 1);
              this.state = State.Dollar;
              i = j + 1;
            } else {
              i++;
            }
          } else if (c === BACKSLASH && this.start === null) {
            this.start = i;
            this.state = State.Meta;
            i++;
          } else {
            this.begin(i);
            i++;
          }
          break;
        }
        case State.Quote:
        case State.Ident: {
          const close = buf.indexOf(this.state === State.Quote ? "'" : '"', i);
          if (close === -1) {
            i = n;
            break scan;
          }
          if (close + 1 >= n && more) {
            // '' or "" (an escaped quote) or the end: the next chunk decides.
            i = close;
            break scan;
          }
          if (close + 1 < n && buf.charCodeAt(close + 1) === buf.charCodeAt(close)) {
            i = close + 2;
          } else {
            this.state = State.Normal;
            i = close + 1;
          }
          break;
        }
        case State.EscapeQuote: {
          const c = buf.charCodeAt(i);
          if (c === BACKSLASH) {
            if (i + 1 >= n && more) break scan;
            i += 2;
          } else if (c === QUOTE) {
            if (i + 1 >= n && more) break scan;
            if (i + 1 < n && buf.charCodeAt(i + 1) === QUOTE) i += 2;
            else {
              this.state = State.Normal;
              i++;
            }
          } else {
            i++;
          }
          break;
        }
        case State.Dollar: {
          const close = buf.indexOf(this.tag, i);
          if (close === -1) {
            // The closing tag may be cut in two: look again from where it could start.
            i = Math.max(i, n - this.tag.length + 1);
            break scan;
          }
          this.state = State.Normal;
          i = close + this.tag.length;
          break;
        }
        case State.LineComment: {
          const eol = buf.indexOf('\n', i);
          if (eol === -1) {
            i = n;
            break scan;
          }
          this.state = State.Normal;
          i = eol + 1;
          break;
        }
        case State.BlockComment: {
          const c = buf.charCodeAt(i);
          if (c !== SLASH && c !== STAR) {
            i++;
            break;
          }
          if (i + 1 >= n) {
            if (more) break scan;
            i++;
            break;
          }
          const next = buf.charCodeAt(i + 1);
          if (c === SLASH && next === STAR) {
            this.depth++;
            i += 2;
          } else if (c === STAR && next === SLASH) {
            i += 2;
            if (--this.depth === 0) this.state = State.Normal;
          } else {
            i++;
          }
          break;
        }
        case State.Meta: {
          const eol = buf.indexOf('\n', i);
          if (eol === -1) {
            i = n;
            break scan;
          }
          out.push(this.take(eol).trimEnd());
          this.state = State.Normal;
          i = eol + 1;
          break;
        }
      }
    }
    this.i = i;
    if (this.ended && this.state === State.Meta) {
      out.push(this.take(n).trimEnd());
      this.state = State.Normal;
    }
    return out;
  }
}

/** Whole statements from a stream of text, as they complete. */
export async function* sqlStatements(source: AsyncIterable<string>): AsyncGenerator<string> {
  const splitter = new SqlStatementSplitter();
  for await (const text of source) yield* splitter.push(text);
  yield* splitter.end();
}

/** Splits a whole text at once (tests, small files). */
export function splitSql(text: string): string[] {
  const splitter = new SqlStatementSplitter();
  return [...splitter.push(text), ...splitter.end()];
}
