"""`strata bench load` beside a peer load generator, kubernetes-sigs inference-perf.

Both drive the same `strata up` gateway with Poisson arrivals at the same rate, for
the same time, with prompts of exactly --input-tokens tokens and answers of exactly
--output-tokens (ignore_eos), streamed text completions. The script prints each
tool's TTFT p50, TPOT p50 and output tokens/s and their ratio. Not part of CI: it
installs inference-perf (PyPI, Python >= 3.12, not a Strata dependency) into a
virtual environment of its own under ~/.cache/strata/peer-bench, and takes minutes.

    python3 bench/peer/compare-load.py [--rate 0.3] [--duration 120] \
        [--input-tokens 64] [--output-tokens 32] [--stages 3] [--rounds 2]

Without --url it starts `strata up --stages N` (the default model, SmolLM2-135M) on
a free port and stops it at the end. inference-perf needs a Hugging Face tokenizer:
`strata model convert --to hf` writes one from the GGUF. The tools take turns
(strata, inference-perf, strata, …) so a change in the machine's load hits both.

How each tool counts (both read from their own source, so the figures compare):
- TTFT: from sending the request to the first streamed token.
- TPOT: (last token time - first token time) / (output tokens - 1), per request.
- output tokens/s: all output tokens over the run; inference-perf divides by the
  time from the first request's start to the last one's end, Strata by the time
  from the start of the arrival schedule to the last end.
The gateway's own TTFT histogram (from its /metrics, before and after each run)
is the referee when the two disagree: it times each request from its arrival at
the gateway to the first token it relays, whichever client sent it.
"""

import argparse
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STRATA = [shutil.which("node") or "node", str(REPO / "cli" / "bin" / "strata.js")]
CACHE = Path(os.environ.get("STRATA_CACHE_DIR", Path.home() / ".cache" / "strata"))
PEER_VERSION = "0.7.0"
VENV = CACHE / "peer-bench" / f"inference-perf-{PEER_VERSION}"
MODEL = "smollm2-135m"
GGUF = CACHE / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
HF_DIR = CACHE / "peer-bench" / "smollm2-135m-hf"


def fail(message):
    print(f"compare-load: {message}", file=sys.stderr)
    sys.exit(2)


def ensure_inference_perf():
    binary = VENV / "bin" / "inference-perf"
    if binary.exists():
        return binary
    python = next((p for p in ("python3.13", "python3.12") if shutil.which(p)), None)
    if python is None:
        fail(f"inference-perf {PEER_VERSION} needs Python >= 3.12; none found (python3.12, python3.13)")
    print(f"compare-load: installing inference-perf {PEER_VERSION} into {VENV}", file=sys.stderr)
    subprocess.run([python, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", f"inference-perf=={PEER_VERSION}"], check=True)
    return binary


def ensure_tokenizer():
    if (HF_DIR / "tokenizer.json").exists():
        return HF_DIR
    subprocess.run([*STRATA, "model", "pull", MODEL], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*STRATA, "model", "convert", "--to", "hf", str(GGUF), str(HF_DIR)], check=True)
    return HF_DIR


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_strata_up(stages, log_path):
    port = free_port()
    log = open(log_path, "w")
    child = subprocess.Popen(
        [*STRATA, "up", "--stages", str(stages), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        start_new_session=True,
    )
    for line in child.stdout:
        match = re.search(r"OpenAI endpoint: (http://\S+)/v1", line)
        if match:
            return child, match.group(1)
    fail(f"strata up exited before serving; see {log_path}")


TTFT_HISTOGRAM = "strata_gateway_time_to_first_token_seconds"


def gateway_ttft_buckets(url):
    """The gateway's own TTFT histogram (cumulative counts by upper bound, seconds)."""
    text = urllib.request.urlopen(f"{url}/metrics", timeout=10).read().decode()
    counts = {}
    for labels, value in re.findall(rf"^{TTFT_HISTOGRAM}_bucket{{([^}}]*)}} (\d+)", text, re.M):
        le = re.search(r'le="([^"]+)"', labels).group(1)
        counts[math.inf if le == "+Inf" else float(le)] = int(value)
    return counts


def gateway_median_ttft(before, after):
    """The bucket holding the median TTFT the gateway saw between two snapshots: (low, high] seconds."""
    diff = sorted((le, after[le] - before.get(le, 0)) for le in after)
    total = diff[-1][1] if diff else 0
    low = 0.0
    for le, cumulative in diff:
        if total > 0 and cumulative >= total / 2:
            return low, le
        low = le
    return math.nan, math.nan


def run_strata_load(url, args, out):
    subprocess.run(
        [
            *STRATA, "bench", "load", "--url", url, "--model", MODEL,
            "--rate", str(args.rate), "--duration", str(args.duration),
            "--input-tokens", str(args.input_tokens), "--output-tokens", str(args.output_tokens),
            "--seed", str(args.seed), "--out", str(out),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    target = json.loads((out / "load.json").read_text())["targets"][0]
    return {
        "requests": target["succeeded"],
        "failed": target["failed"],
        "ttft_ms": target["ttftMs"]["50"],
        "tpot_ms": target["tpotMs"]["50"],
        "output_tps": target["outputTokensPerS"],
    }


def peer_config(url, args, out, tokenizer):
    count = math.ceil(args.rate * args.duration * 2) + 10
    fixed = lambda n: {"min": n, "max": n, "mean": n, "std_dev": 0, "total_count": count}  # noqa: E731
    return {
        "load": {"type": "poisson", "stages": [{"rate": args.rate, "duration": args.duration}]},
        "api": {"type": "completion", "streaming": True},
        "server": {"type": "vllm", "model_name": MODEL, "base_url": url, "ignore_eos": True},
        "tokenizer": {"pretrained_model_name_or_path": str(tokenizer)},
        "data": {
            "type": "random",
            "input_distribution": fixed(args.input_tokens),
            "output_distribution": fixed(args.output_tokens),
        },
        "report": {"request_lifecycle": {"summary": True, "per_stage": True, "per_request": True}},
        "storage": {"local_storage": {"path": str(out)}},
    }


def run_peer_load(binary, url, args, out, tokenizer):
    out.mkdir(parents=True, exist_ok=True)
    config = out / "config.json"
    config.write_text(json.dumps(peer_config(url, args, out, tokenizer), indent=1))
    with open(out / "inference-perf.log", "w") as log:
        subprocess.run([str(binary), "-c", str(config)], check=True, stdout=log, stderr=log, cwd=out)
    summary = next(out.rglob("summary_lifecycle_metrics.json"), None)
    if summary is None:
        fail(f"inference-perf wrote no summary_lifecycle_metrics.json under {out}")
    data = json.loads(summary.read_text())
    ok = data["successes"]
    return {
        "requests": ok["count"],
        "failed": data.get("failures", {}).get("count", 0),
        "ttft_ms": ok["latency"]["time_to_first_token"]["median"] * 1000,
        "tpot_ms": ok["latency"]["time_per_output_token"]["median"] * 1000,
        "output_tps": ok["throughput"]["output_tokens_per_sec"],
    }


def table(rows):
    lines = [
        "| tool | round | requests ok / failed | TTFT p50 ms | TPOT p50 ms | output tok/s | gateway's TTFT p50 bucket |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, rnd, r in rows:
        low, high = r["gateway_ttft"]
        lines.append(
            f"| {name} | {rnd} | {r['requests']} / {r['failed']} | {r['ttft_ms']:.0f} | {r['tpot_ms']:.1f} "
            f"| {r['output_tps']:.2f} | {low:g}–{high:g} s |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running gateway (default: start strata up)")
    parser.add_argument("--stages", type=int, default=3)
    parser.add_argument("--rate", type=float, default=0.3)
    parser.add_argument("--duration", type=int, default=120)
    parser.add_argument("--input-tokens", type=int, default=64)
    parser.add_argument("--output-tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "peer"))
    args = parser.parse_args()

    binary = ensure_inference_perf()
    tokenizer = ensure_tokenizer()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    child = None
    url = args.url
    if url is None:
        child, url = start_strata_up(args.stages, out / "strata-up.log")
    rows = []
    try:
        for rnd in range(1, args.rounds + 1):
            load_before = os.getloadavg()[0]
            for name, run in (
                ("strata bench load", lambda: run_strata_load(url, args, out / f"strata-{rnd}")),
                ("inference-perf", lambda: run_peer_load(binary, url, args, out / f"peer-{rnd}", tokenizer)),
            ):
                before = gateway_ttft_buckets(url)
                result = run()
                result["gateway_ttft"] = gateway_median_ttft(before, gateway_ttft_buckets(url))
                rows.append((name, rnd, result))
            print(f"round {rnd}: 1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after", file=sys.stderr)
    finally:
        if child is not None:
            os.killpg(child.pid, signal.SIGINT)
            child.wait(timeout=60)
    print(
        f"{MODEL} via {url}, Poisson {args.rate} req/s for {args.duration} s, "
        f"{args.input_tokens} prompt / {args.output_tokens} output tokens, {os.cpu_count()} CPUs"
    )
    print(table(rows))
    mine = [r for n, _, r in rows if n.startswith("strata")]
    peer = [r for n, _, r in rows if n == "inference-perf"]
    for key, label in (("ttft_ms", "TTFT p50"), ("tpot_ms", "TPOT p50"), ("output_tps", "output tok/s")):
        a = sum(r[key] for r in mine) / len(mine)
        b = sum(r[key] for r in peer) / len(peer)
        print(f"{label}: inference-perf / strata = {b / a:.3f} (mean over rounds)")


if __name__ == "__main__":
    main()
