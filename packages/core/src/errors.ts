/**
 * Errors that users cause: bad flags, bad files, a model that does not fit.
 * The CLI prints `message` as one line and exits with `exitCode`; network
 * boundaries map them to HTTP 4xx or gRPC INVALID_ARGUMENT.
 */
export class InputError extends Error {
  override readonly name: string = "InputError";
  readonly exitCode: number = 2;
  /** The flag, file or field at fault, e.g. `--nodes` or `config.json: num_hidden_layers`. */
  readonly field: string;

  constructor(field: string, message: string, options?: ErrorOptions) {
    super(`${field}: ${message}`, options);
    this.field = field;
  }
}

/** The request is valid but no placement satisfies it (e.g. the model does not fit). */
export class DoesNotFitError extends Error {
  override readonly name: string = "DoesNotFitError";
  readonly exitCode: number = 2;
}
