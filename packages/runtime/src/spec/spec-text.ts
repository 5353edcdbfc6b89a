/**
 * A spec file's bytes as text, or why they are not text. `weir validate` on a binary file (an
 * image, a compiled program, a `.gz`) used to decode it anyway and print 128 KB of replacement
 * characters as "YAML errors"; the user needs one line saying it is not a text file.
 */
const decoder = new TextDecoder("utf-8", { fatal: true });

export type SpecText = { readonly text: string } | { readonly notText: string };

export function decodeSpecText(bytes: Uint8Array): SpecText {
  const nul = bytes.indexOf(0);
  if (nul >= 0) return { notText: `not a text file (a NUL byte at offset ${nul}); a spec is YAML or JSON text` };
  try {
    return { text: decoder.decode(bytes) };
  } catch {
    return { notText: `not a text file (bytes that are not UTF-8); a spec is YAML or JSON text in UTF-8` };
  }
}
