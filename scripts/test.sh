#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what the tests need, then
# type-checks, lints and runs every test tier. Safe to run repeatedly: slow
# builds are cached under ~/.cache/strata and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc --build
npx strata setup
# vLLM's CPU backend (about 4 min and 6.2 GB cold) and the real model the vLLM
# and end-to-end tests serve (SmolLM2-135M, 94 MB); both skip when cached.
npx strata setup --engine vllm
npx strata model pull smollm2-135m
node test/dist/setup.js
npx biome check .
npx buf lint
npx vitest run
# Faults injected into the real processes, on loopback and on the test cluster
# (README "Chaos suite"); prints a table and one JSON line, fails on a broken requirement.
node test/dist/chaos/main.js
# The chart on the test cluster's real nodes (README "Install on a Kubernetes
# cluster"): helm install to first token, a stage pod deleted mid-stream, a
# rolling helm upgrade under load, helm uninstall; one JSON line of figures.
node test/dist/cluster-e2e/main.js
