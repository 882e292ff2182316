// A path as one word of a shell command the CLI prints for pasting: a home with a space ("/home/José Müller") stays one word.

/** Characters a shell passes on as they are (no space, quote, $, glob or leading ~). */
const PLAIN = /^[A-Za-z0-9._/@%+=:,-]+$/;

/** `s` unchanged when the shell would take it as it is, else in single quotes (nothing inside is expanded). */
export function shellWord(s: string): string {
  return PLAIN.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
