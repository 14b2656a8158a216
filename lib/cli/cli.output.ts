/** Where a command writes: data to stdout, diagnostics to stderr. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** What a command prints, as text for people or, with --json, as JSON for programs. */
export class CliOutput {
  constructor(
    private readonly io: CliIo,
    /** --json: commands print one JSON document instead of lines and tables. */
    readonly json: boolean,
  ) {}

  /** One line of text. */
  line(text = ''): void {
    this.io.stdout(`${text}\n`);
  }

  /** A value as JSON (dates as ISO strings). */
  data(value: unknown): void {
    this.io.stdout(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Columns padded to their widest cell; the last column is not padded. */
  table(headers: string[], rows: string[][]): void {
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    for (const row of [headers, ...rows]) {
      this.line(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd());
    }
  }

  /** `label  value` lines, values aligned (a value's further lines too). */
  fields(pairs: Array<[string, string]>): void {
    const width = Math.max(...pairs.map(([label]) => label.length));
    for (const [label, value] of pairs) {
      this.line(`${label.padEnd(width)}  ${value.split('\n').join(`\n${' '.repeat(width + 2)}`)}`);
    }
  }

  /** A refusal or failure: one line on stderr. */
  error(message: string): void {
    this.io.stderr(`nestjs-pgflow: ${message}\n`);
  }
}

/** A timestamp for a table cell, `-` when there is none. */
export function time(value: Date | null | undefined): string {
  return value ? value.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-';
}

/** Text for a table cell: whitespace collapsed to single spaces, cut at `max` characters. */
export function cell(text: string | null | undefined, max = 60): string {
  if (text === null || text === undefined || text === '') return '-';
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
