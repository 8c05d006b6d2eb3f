#!/bin/sh
# Whole-process comparison of a configure-like fork/exec script: bare vs hutch's tracer vs
# `strace -f` (when installed). Prints the median CPU time (user+sys of the whole tree, the
# tracer included) and the minimum wall time over ROUNDS interleaved rounds.
#
# usage: benches/tracer-compare.sh [ROUNDS]   (default 5)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${1:-5}
cargo build --quiet --release -p hutch-tests --bins --manifest-path "$ROOT/Cargo.toml"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/conf.sh" <<'SCRIPT'
cd "$(dirname "$0")"
for i in $(seq 40); do
  printf 'int main(void){return 0;}\n' > conftest.c
  gcc -o conftest conftest.c
  rm -f conftest conftest.c
  echo abc | sed s/a/b/ | tr b c >/dev/null
done
SCRIPT
python3 - "$ROUNDS" "$WORK" "$ROOT/target/release/hutch-trace" <<'PY'
import os, resource, shutil, statistics, subprocess, sys, time
rounds, work, trace = int(sys.argv[1]), sys.argv[2], sys.argv[3]
script = [ "sh", os.path.join(work, "conf.sh") ]
modes = {
    "bare": script,
    "hutch": [trace, "-w", work, "-w", "/tmp", "--"] + script,
}
if shutil.which("strace"):
    modes["strace -f"] = ["strace", "-f", "-o", "/dev/null"] + script
else:
    print("strace not installed: skipped")
print("catbox: not installed here (Python 2 C extension); see the reference notes for its figures")
cpu = {m: [] for m in modes}
wall = {m: [] for m in modes}
for _ in range(rounds):
    for mode, cmd in modes.items():
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        wall[mode].append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if out.returncode != 0 or b"hutch:violation" in out.stdout:
            print(mode, "failed:", out.stdout.decode(errors="replace")[-500:])
        cpu[mode].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
base = statistics.median(cpu["bare"])
print(f"{'mode':<12}{'wall min s':>12}{'CPU med s':>12}{'CPU x':>8}")
for mode in modes:
    med = statistics.median(cpu[mode])
    print(f"{mode:<12}{min(wall[mode]):>12.3f}{med:>12.3f}{med / base:>8.3f}")
PY
