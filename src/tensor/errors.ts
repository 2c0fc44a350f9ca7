// Typed errors users can act on: each says what was found, what was expected and where.

export class PeftError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
/** A file on disk is malformed (names the file and the field/tensor). */
export class FormatError extends PeftError {}
/** A configuration value is missing, unknown or inconsistent. */
export class ConfigError extends PeftError {}
/** Shapes, dtypes or graph use are invalid for an op (names the op and the shapes). */
export class ShapeError extends PeftError {}
/** A collective between ranks failed: a lost or late peer (names the collective and the ranks), or ranks that disagree. */
export class DistributedError extends PeftError {}
