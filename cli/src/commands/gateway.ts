import { InputError } from "@strata/core";
import { runGateway } from "@strata/gateway";
import { type Command, Option } from "commander";
import { port, positiveInt } from "../flags.js";

interface GatewayFlags {
  host: string;
  port: number;
  upstream: string[];
  natsUrl?: string;
  /** Deprecated spelling of --nats-url. */
  nats?: string;
  kubernetes?: boolean;
  namespace: string;
  apiKeysFile?: string;
  maxQueue?: number;
  maxBodyBytes?: number;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** `strata gateway`: the OpenAI-compatible gateway on its own, in front of given or discovered heads. */
export function registerGateway(program: Command): void {
  program
    .command("gateway")
    .description("Run the OpenAI-compatible gateway in front of replica heads")
    .option("--host <address>", "address to listen on", "127.0.0.1")
    .option("--port <n>", "port to listen on", port, 8080)
    .option(
      "--upstream <name=url>",
      "a head serving model <name>; repeat for replicas and models",
      collect,
      [],
    )
    .option("--nats-url <url>", "discover heads from worker heartbeats on this NATS server")
    .addOption(new Option("--nats <url>", "deprecated: use --nats-url").hideHelp())
    .option(
      "--kubernetes",
      "discover heads from ModelDeployment head EndpointSlices (in-cluster or KUBECONFIG)",
    )
    .option("--namespace <ns>", "namespace to watch with --kubernetes", "default")
    .option("--api-keys-file <path>", "file with one accepted API key per line (default: no authentication)")
    .option("--max-queue <n>", "requests per head before the gateway answers 429", positiveInt)
    .option("--max-body-bytes <n>", "largest accepted request body in bytes", positiveInt)
    .action(async (flags: GatewayFlags) => {
      if (flags.nats !== undefined) {
        if (flags.natsUrl !== undefined)
          throw new InputError("--nats", "is the old spelling of --nats-url; give one");
        process.stderr.write("strata: --nats is deprecated; use --nats-url\n");
      }
      const running = await runGateway({
        host: flags.host,
        port: flags.port,
        upstreams: flags.upstream,
        natsUrl: flags.natsUrl ?? flags.nats,
        kubernetesNamespace: flags.kubernetes ? flags.namespace : undefined,
        apiKeysFile: flags.apiKeysFile,
        maxQueuePerReplica: flags.maxQueue,
        maxBodyBytes: flags.maxBodyBytes,
      });
      process.stdout.write(`gateway listening on ${running.url} (OpenAI API at ${running.url}/v1)\n`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await running.stop();
    });
}
