"""Strata's capacity model beside NVIDIA's AIConfigurator on the published rows both can predict.

AIConfigurator (PyPI `aiconfigurator`) is not a Strata dependency. Install it in a
virtual environment of its own and run this script with that interpreter:

    python3 -m venv /tmp/aic && /tmp/aic/bin/pip install aiconfigurator
    npx strata bench capacity --validate bench/data/published.csv --json > /tmp/plain.json
    npx strata bench capacity --validate bench/data/published.csv --cv source --json > /tmp/cv.json
    /tmp/aic/bin/python bench/aiconfigurator/compare.py bench/data/published.csv /tmp/plain.json /tmp/cv.json [EVERY [ENGINES]]

Each estimate takes seconds (tens on a busy 2-core machine), and an offline row takes
one per candidate batch; EVERY (default 1) runs every EVERY-th supported row only, and
ENGINES (a comma-separated list, default all three) only the rows of those engines.
A row's KV cache is in its `kv_dtype` where the file gives one, else in its weights' dtype.

What AIConfigurator can predict: NVIDIA systems it ships data for (h100_sxm, h200_sxm,
b200_sxm, ...), the backends trtllm, vllm and sglang, models whose config it ships. It
estimates one operating point (a batch size) at a time, so:
- a `server` row at concurrency C is estimated at batch C / replicas;
- an `offline` row (maximum throughput) is the best of the batches in OFFLINE_BATCHES
  whose memory per GPU fits the GPU, as an offline run would settle on.
Throughput per replica = batch x osl / (TTFT + (osl - 1) x TPOT); all replicas together.
AIConfigurator's tables were not fitted on these sources, so its error is the same in
plain and leave-one-source-out terms; both of Strata's are printed beside it.
"""

import csv
import json
import logging
import statistics
import sys
import warnings

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

SYSTEMS = {"h100": "h100_sxm", "h200": "h200_sxm", "b200": "b200_sxm"}
GPU_MEMORY_GB = {"h100": 80, "h200": 141, "b200": 180}
MODELS = {
    "llama-3.1-8b": "meta-llama/Meta-Llama-3.1-8B",
    "llama-3.1-70b": "meta-llama/Meta-Llama-3.1-70B",
    "llama-3.3-70b": "meta-llama/Meta-Llama-3.1-70B",  # same shape as 3.1 70B
    "llama-3.1-405b": "meta-llama/Meta-Llama-3.1-405B",
    "qwen3-8b": "Qwen/Qwen3-8B",
}
BACKENDS = {"trtllm", "vllm", "sglang"}
OFFLINE_BATCHES = (128, 512)


def supported(row):
    return row["gpu"] in SYSTEMS and row["model"] in MODELS and row.get("engine") in BACKENDS


def memory_gb(result):
    """Memory per GPU AIConfigurator reports for the operating point, if it reports one."""
    for key, value in (result.raw or {}).items():
        if "memory" in key.lower() and isinstance(value, (int, float)):
            return float(value)
    return None


def estimate(row, batch):
    from aiconfigurator.cli.api import cli_estimate

    quant = "fp8" if row["dtype"] == "fp8" else "bfloat16"
    kv_dtype = row.get("kv_dtype") or row["dtype"]
    kv_quant = "fp8" if kv_dtype == "fp8" else "bfloat16"
    r = cli_estimate(
        MODELS[row["model"]],
        SYSTEMS[row["gpu"]],
        mode="agg",
        backend_name=row["engine"],
        isl=int(row["isl"]),
        osl=int(row["osl"]),
        batch_size=batch,
        tp_size=int(row["tp"]),
        pp_size=int(row["pp"]),
        gemm_quant_mode=quant,
        kvcache_quant_mode=kv_quant,
    )
    osl = int(row["osl"])
    replicas = int(row["nodes"]) * int(row["gpus_per_node"]) // (int(row["tp"]) * int(row["pp"]))
    per_replica = batch * osl / ((float(r.ttft) + (osl - 1) * float(r.tpot)) / 1000)
    return {
        "output_tokens_per_s": per_replica * replicas,
        "ttft_ms": float(r.ttft),
        "tpot_ms": float(r.tpot),
        "memory_gb": memory_gb(r),
    }


def predict(row):
    metric = row["metric"]
    if row["scenario"] == "server":
        replicas = int(row["nodes"]) * int(row["gpus_per_node"]) // (int(row["tp"]) * int(row["pp"]))
        return estimate(row, max(1, int(row["concurrency"]) // replicas))[metric]
    best = None
    for batch in OFFLINE_BATCHES:
        try:
            e = estimate(row, batch)
        except Exception:  # a batch AIConfigurator cannot place
            continue
        if e["memory_gb"] is not None and e["memory_gb"] > GPU_MEMORY_GB[row["gpu"]]:
            continue
        if best is None or e[metric] > best:
            best = e[metric]
    return best


def median_abs(errors):
    return statistics.median(abs(e) for e in errors) if errors else float("nan")


def main(csv_path, plain_path, cv_path, every="1", engines=",".join(sorted(BACKENDS))):
    wanted = set(engines.split(","))
    rows = list(csv.DictReader(open(csv_path, newline="")))
    plain = {r["line"]: r for r in json.load(open(plain_path))["rows"]}
    cv = {r["line"]: r for r in json.load(open(cv_path))["rows"]}
    out = []
    skipped = 0
    seen = 0
    for i, row in enumerate(rows):
        line = i + 2
        if not supported(row) or row["engine"] not in wanted:
            skipped += 1
            continue
        seen += 1
        if (seen - 1) % int(every) != 0:
            continue
        try:
            predicted = predict(row)
        except Exception as err:  # reported, not hidden
            print(f"row {line}: AIConfigurator failed: {err}", file=sys.stderr)
            predicted = None
        if predicted is None:
            skipped += 1
            continue
        measured = float(row["value"])
        out.append(
            {
                "line": line,
                "aic": (predicted - measured) / measured * 100,
                "plain": plain[line]["errorPct"],
                "cv": cv[line]["errorPct"],
                "key": f'{row["gpu"]}/{row["engine"]}',
            }
        )
        print(f'row {line} {row["model"]} {row["gpu"]} tp{row["tp"]} {row["isl"]}/{row["osl"]} {row["scenario"]}: '
              f'measured {measured:.0f}, AIConfigurator {predicted:.0f} ({out[-1]["aic"]:+.1f}%), '
              f'Strata {out[-1]["plain"]:+.1f}% (cv {out[-1]["cv"]:+.1f}%)', flush=True)
    print(f"\n{len(out)} rows both predict (every {every}th supported row; {skipped} rows AIConfigurator cannot):")
    print(f"  AIConfigurator median |error| {median_abs([r['aic'] for r in out]):.1f}%")
    print(f"  Strata shipped  median |error| {median_abs([r['plain'] for r in out]):.1f}%")
    print(f"  Strata --cv     median |error| {median_abs([r['cv'] for r in out]):.1f}%")
    for key in sorted({r["key"] for r in out}):
        group = [r for r in out if r["key"] == key]
        print(f"  {key} ({len(group)} rows): AIConfigurator {median_abs([r['aic'] for r in group]):.1f}%, "
              f"Strata {median_abs([r['plain'] for r in group]):.1f}% (cv {median_abs([r['cv'] for r in group]):.1f}%)")


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5, 6):
        sys.exit("usage: compare.py <published.csv> <strata-plain.json> <strata-cv.json> [EVERY [ENGINES]]")
    main(*sys.argv[1:])
