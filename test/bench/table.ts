/** The printed result: a Markdown table (it pastes into docs/bench.md as is) with numbered notes. */
import type { BenchRow } from './context.js';

const MARK: Record<NonNullable<BenchRow['verdict']>, string> = { met: '✓', missed: '✗', info: '' };

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** Rows as a Markdown table, columns padded for a terminal; notes follow as [n] lines. */
export function renderTable(rows: readonly BenchRow[]): string {
  const header = ['figure', 'ours', 'baseline (same run)', 'ratio', 'target', ''];
  const notes: string[] = [];
  const body = rows.map((row) => {
    let figure = row.figure;
    if (row.note) {
      notes.push(row.note);
      figure += ` [${notes.length}]`;
    }
    return [figure, row.ours, row.baseline, row.ratio, row.target ?? '—', MARK[row.verdict ?? 'info']].map(cell);
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const out = [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)];
  if (notes.length) out.push('', ...notes.map((n, i) => `[${i + 1}] ${n}`));
  return out.join('\n');
}

/** "9 of 11 figures with a target meet it". */
export function verdictSummary(rows: readonly BenchRow[]): string {
  const judged = rows.filter((r) => r.verdict === 'met' || r.verdict === 'missed');
  const met = judged.filter((r) => r.verdict === 'met').length;
  const missed = judged.filter((r) => r.verdict === 'missed').map((r) => r.figure);
  return `${met} of ${judged.length} figures with a target meet it${missed.length ? `; missed: ${missed.join('; ')}` : ''}`;
}
