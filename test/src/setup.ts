// Installs what only the tests need (Kubernetes control-plane binaries, promtool).
// Filled in by the harness issue; the engines are installed by `strata setup`.
export {};
