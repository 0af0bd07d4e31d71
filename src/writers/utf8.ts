/** @module UTF-8 sizes of strings, for the broker writers' limits and wire formats, counted without encoding. */

/** UTF-8 length of a string, scanning without encoding (surrogate pairs: 4 bytes, lone surrogates: 3, as encoders replace them). */
export function utf8Length(text: string): number {
  let bytes = text.length
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) continue
    if (code < 0x800) bytes += 1
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2 // 4 bytes for the pair's 2 code units
      i++
    } else bytes += 2
  }
  return bytes
}
