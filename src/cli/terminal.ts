// What reaches the terminal. Titles, messages, notes, context facts, ledger entries and API errors
// are written by other people (a tenant, a receiver, an alert rule): printed raw, an escape sequence
// among them could clear the screen, rewrite lines already shown (a carriage return), retitle the
// window, or set the clipboard (OSC 52). Every line the plugin prints passes through forTerminal.

/**
 * ESC-introduced sequences: CSI (ESC [ … final byte), OSC, DCS, SOS, PM and APC strings (up to BEL or
 * ST, or the end of the line when unterminated), and two-character escapes; the same introduced by their 8-bit C1 forms (CSI U+009B, OSC U+009D,
 * DCS U+0090, SOS U+0098, PM U+009E, APC U+009F).
 */
const ESCAPE_SEQUENCES =
  // eslint-disable-next-line no-control-regex
  /(?:\u001b\[|\u009b)[\u0030-\u003f]*[\u0020-\u002f]*[\u0040-\u007e]?|(?:\u001b[\]P^_X]|[\u0090\u0098\u009d\u009e\u009f])[^\u0007\u001b\u009c\n]*(?:\u0007|\u001b\\|\u009c)?|\u001b[\u0020-\u002f]*[\u0030-\u007e]?/g;

/**
 * Characters that control the terminal, reorder text or show nothing: C0 but the newline, DEL, C1;
 * the Unicode format characters (Cf: the bidirectional controls that make text read differently
 * from how it is stored, zero-width spaces and joiners, the BOM, tag characters, interlinear
 * annotation marks), which would hide text or make two names that print alike differ; the line and
 * paragraph separators (Zl, Zp), which some terminals break lines on; and the Hangul fillers, which
 * are letters that print as blanks. Emoji built with a zero-width joiner or tags print as their
 * parts: a name that looks like what it is matters more here.
 */
const CONTROLS =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}\u115f\u1160\u3164\uffa0]/gu;

/** The text with escape sequences and control characters removed; newlines kept, tabs as spaces. */
export function forTerminal(text: string): string {
  return text.replace(ESCAPE_SEQUENCES, '').replaceAll('\t', ' ').replace(CONTROLS, '');
}
