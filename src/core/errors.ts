// The one error type of the core: what was wrong, in which row (null: the whole call) and field.

export class CoreInputError extends Error {
  /** Row of the batch (0-based) the problem is in; null when it concerns the whole call. */
  readonly row: number | null;
  /** The option or input that is wrong: "probs", "proxyProbs", "gram", "numClasses", "epsilon", ... */
  readonly field: string;

  constructor(field: string, row: number | null, problem: string) {
    super(row === null ? `${field}: ${problem}` : `row ${row}, ${field}: ${problem}`);
    this.name = "CoreInputError";
    this.field = field;
    this.row = row;
  }
}
