/** A document read from a corpus: its text and where it came from (for error messages and progress). */
export interface CorpusDocument {
  /** The document's text, as stored (not normalised). */
  text: string;
  /** Human-readable location: "path:line" for line formats, "path row N" / "path sample N" otherwise. */
  where: string;
}
