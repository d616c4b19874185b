/** Command lines to print: arguments quoted for a POSIX shell, so that a path with a
 * space or a quote in it gives a command that works when pasted. */

/** `word` as one shell word: as it is when it holds only safe characters, else in
 * single quotes (a single quote inside becomes '\''). */
export function shellQuote(word: string): string {
  return /^[\w./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export const shellCommand = (words: readonly string[]): string => words.map(shellQuote).join(' ');
