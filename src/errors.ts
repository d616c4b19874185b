/**
 * The error catalogue. A `UsageError` is bad input: the CLI prints its one line and
 * exits 2. Anything else that escapes is an internal failure (exit 1).
 */

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** An output file could not be written (a full disk, a vanished folder): not bad
 * input, but not a bug either; the CLI prints its one line and exits 1. */
export class OutputError extends Error {
  override readonly name = 'OutputError';
}

/** Exit statuses of the commands. */
/** Exit statuses (README, "Never losing a run"); a signal's is 128 + its number. */
export const EXIT = { OK: 0, INTERNAL: 1, USAGE: 2, RUNS_FAILED: 3 } as const;

/** Messages are one line, whatever text (a key, a path) they quote. */
export const oneLine = (message: string): string => message.replace(/\s*[\r\n]+\s*/g, ' ');

/** Prints why `program` failed, as one line (a stack trace for a bug), and gives its
 * exit status: 2 bad input, 1 an output or the workers failed, 1 a bug. */
const isSystemError = (e: unknown): e is NodeJS.ErrnoException =>
  e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && 'syscall' in e;

export function exitCode(program: string, error: unknown): number {
  if (error instanceof UsageError) {
    process.stderr.write(`${program}: ${oneLine(error.message)}\n`);
    return EXIT.USAGE;
  }
  if (error instanceof Error && (error.name === 'OutputError' || error.name === 'ExecutorError')) {
    process.stderr.write(`${program}: ${oneLine(error.message)}\n`);
    return EXIT.INTERNAL;
  }
  if (isSystemError(error)) {
    // The system refused something (a file, a pipe): one line, not a bug's stack.
    const { code, syscall, path } = error;
    process.stderr.write(`${program}: ${syscall ?? 'a system call'}${path ? ` ${path}` : ''} failed (${code})\n`);
    return EXIT.INTERNAL;
  }
  process.stderr.write(
    `${program}: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  return EXIT.INTERNAL;
}

/** A config that cannot run: names the file, the field, the rule and the value. */
export class ConfigError extends UsageError {
  constructor(
    readonly file: string,
    readonly field: string,
    readonly problem: string,
  ) {
    super(field ? `${file}: ${field} ${problem}` : `${file}: ${problem}`);
  }
}

/** Longest rendering of a value or key in a message. */
const SHOW_CHARS = 60;

/** The value as it appears in JSON (non-finite numbers by name: 1e999 reads as
 * Infinity), escaped onto one line and shortened for a message. */
export function show(value: unknown): string {
  const mark = '\u0000num:';
  let text: string;
  try {
    text =
      JSON.stringify(value, (_, v: unknown) =>
        typeof v === 'number' && !Number.isFinite(v) ? `${mark}${v}` : v,
      )?.replace(/"\\u0000num:([^"]*)"/g, '$1') ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > SHOW_CHARS ? `${text.slice(0, SHOW_CHARS - 3)}...` : text;
}

/** A key as a field name: as it is when it is a plain identifier, else quoted. */
export function showKey(key: string): string {
  return /^[\w$-]{1,60}$/.test(key) ? key : show(key);
}

/** The closest candidate by edit distance, if it is close enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/**
 * A yargs `.fail` handler for a command line: its messages and its own parse errors
 * (an option without its value) are bad input, one line; `missing` is the line for a
 * missing positional argument. Any other error goes on as it is.
 */
export function usageFailure(missing?: string): (message: string, error: Error | undefined) => never {
  return (message, error) => {
    if (error && error.name !== 'YError') throw error;
    if (error) {
      const option = /^Not enough arguments following: (\S+)$/.exec(error.message)?.[1];
      throw new UsageError(option ? `--${option} needs a value` : error.message);
    }
    if (missing && message.startsWith('Not enough non-option arguments')) throw new UsageError(missing);
    throw new UsageError(message);
  };
}
