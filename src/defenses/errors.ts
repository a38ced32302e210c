// Errors a defense raises. Both name what is wrong, so a CLI or an HTTP 400 can show them as is.

/** A defense was asked for with an unknown name, a bad parameter, or a missing dependency. */
export class DefenseConfigError extends Error {
  constructor(
    readonly defense: string,
    readonly parameter: string | undefined,
    detail: string,
  ) {
    super(parameter === undefined ? `defense "${defense}": ${detail}` : `defense "${defense}": parameter "${parameter}": ${detail}`);
    this.name = "DefenseConfigError";
  }
}

/** A batch handed to a defense is malformed (shape, NaN, negative or non-normalised probabilities). */
export class DefenseInputError extends Error {
  constructor(
    readonly field: string,
    readonly row: number | undefined,
    detail: string,
  ) {
    super(row === undefined ? `${field}: ${detail}` : `${field}, row ${row}: ${detail}`);
    this.name = "DefenseInputError";
  }
}
