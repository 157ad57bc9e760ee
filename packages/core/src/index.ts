export { DoesNotFitError, InputError } from "./errors.js";
