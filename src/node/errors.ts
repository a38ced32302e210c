// The Node adapters' error for files and folders: a PredictionPoisoningError that names the path at fault.
import { PredictionPoisoningError } from "../core/errors.js";

/** A file or folder the Node adapters cannot use: "not-found" when it is not there, "data" when its contents do not do. */
export class FileError extends PredictionPoisoningError {
  constructor(
    readonly path: string,
    message: string,
    kind: "data" | "not-found" = "data",
    detail?: string,
  ) {
    super(kind, message, { field: path, detail });
    this.name = "FileError";
  }
}

/** "not-found" for an fs error that says the path is missing, "data" for any other. */
export const fileErrorKind = (e: unknown): "data" | "not-found" => ((e as { code?: unknown } | null)?.code === "ENOENT" ? "not-found" : "data");
