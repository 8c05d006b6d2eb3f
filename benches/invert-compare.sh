#!/usr/bin/env bash
# Side-by-side: hutch_pathset::invert vs sandboxlib 0.3.1's invert_paths on the same 100 000-entry
# tree, interleaved over ROUNDS rounds (default 5). Prints each tool's median and the ratio.
# Needs python3 with venv and pip (PyPI reachable). Leaves nothing behind but target/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
ENTRIES=${ENTRIES:-100000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building hutch-invert-bench (release)..." >&2
cargo build -q --release -p hutch-benches --bin hutch-invert-bench
bin=target/release/hutch-invert-bench

echo "installing sandboxlib 0.3.1 into a throwaway virtualenv..." >&2
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check sandboxlib==0.3.1 >&2

# sandboxlib times its own walk: invert_paths(os.walk(root), [root + w for w in W]), listed fully.
cat > "$work/sbl_time.py" <<'PY'
import os, sys, time
import sandboxlib.linux_user_chroot as luc
root, runs, members = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
paths = [os.path.join(root, m.lstrip('/')) for m in members]
samples, n = [], 0
for _ in range(runs):
    t = time.perf_counter()
    out = sorted(luc.invert_paths(os.walk(root), paths))
    samples.append(time.perf_counter() - t)
    n = len(out)
samples.sort()
print("%.3f %d" % (samples[(len(samples) - 1) // 2] * 1e3, n))
PY

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
minmax() { sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%s-%s", lo, hi}'; }

mkdir "$work/tree"
printf '%-8s %-10s %12s %16s %12s %10s\n' members tool "median ms" "min-max ms" "ro paths" "slower by"
for members in 10 100; do
  rm -rf "$work/tree"; mkdir "$work/tree"
  mapfile -t W < <("$bin" gen "$work/tree" "$ENTRIES" "$members" 2>/dev/null)
  : > "$work/h"; : > "$work/s"
  for _ in $(seq "$ROUNDS"); do
    # One inversion per sample: each tool walks the same warm tree, alternating A B A B.
    "$bin" time "$work/tree" 1 "${W[@]}" >> "$work/h"
    (cd "$work" && venv/bin/python sbl_time.py "$work/tree" 1 "${W[@]}") >> "$work/s"
  done
  hm=$(cut -d' ' -f1 "$work/h" | median); sm=$(cut -d' ' -f1 "$work/s" | median)
  hn=$(head -1 "$work/h" | cut -d' ' -f2); sn=$(head -1 "$work/s" | cut -d' ' -f2)
  printf '%-8s %-10s %12s %16s %12s\n' "$members" hutch "$hm" "$(cut -d' ' -f1 "$work/h" | minmax)" "$hn"
  printf '%-8s %-10s %12s %16s %12s %10s\n' "$members" sandboxlib "$sm" "$(cut -d' ' -f1 "$work/s" | minmax)" "$sn" \
    "$(awk -v h="$hm" -v s="$sm" 'BEGIN{printf "%.1fx", s/h}')"
done
echo "(ro paths differ where sandboxlib's string-prefix matching keeps sibling names writable or counts symlinks)"
