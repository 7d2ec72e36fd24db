// Every piece of text that reaches the page, the feed or the badge goes through here: people write
// the public side, and what they write (HTML, a <script> tag, quotes) must show as the text it is.
const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Characters XML 1.0 does not allow at all (control characters, lone surrogates, U+FFFE/U+FFFF). */
// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|\p{Cs}/gu;

/**
 * Text made safe for HTML and XML content and for quoted attribute values; characters no XML
 * document may hold become U+FFFD, so one odd character cannot break the feed for everyone.
 */
export function escapeMarkup(text: string): string {
  return text.replace(NOT_XML, '\uFFFD').replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}
