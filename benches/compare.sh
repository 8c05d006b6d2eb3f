#!/usr/bin/env bash
# Side-by-side performance of hutch, bare and the peer tools, in one run (see compare/compare.py).
# Installs the peers it can: apt bubblewrap strace proot firejail; PyPI catbox 1.7.0 under Python
# 2.7 (through pyenv when present) and sandboxlib 0.3.1 in a throwaway virtualenv. Peers that
# cannot be installed are left out of the tables and said so. ROUNDS (default 5) sets the rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
venv=$(mktemp -d)
trap 'rm -rf "$venv"' EXIT

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for tool in bwrap:bubblewrap strace:strace proot:proot firejail:firejail make:make cc:gcc; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
      || echo "compare: could not install ${missing[*]}; those peers are left out" >&2
  fi
fi

catbox_python=""
if command -v pyenv >/dev/null && [ -d "$(pyenv root)/versions/2.7.18" ]; then
  py2=$(PYENV_VERSION=2.7.18 pyenv which python)
  "$py2" -c 'import catbox' 2>/dev/null || "$py2" -m pip install -q catbox==1.7.0 >&2 || true
  "$py2" -c 'import catbox' 2>/dev/null && catbox_python=$py2
fi
[ -n "$catbox_python" ] || echo "compare: catbox 1.7.0 (Python 2) unavailable; left out" >&2

sandboxlib_python=""
if python3 -m venv "$venv/sbl" && "$venv/sbl/bin/pip" install -q --disable-pip-version-check sandboxlib==0.3.1 >&2; then
  sandboxlib_python=$venv/sbl/bin/python
else
  echo "compare: sandboxlib 0.3.1 unavailable; left out" >&2
fi

cargo build -q --release -p hutch-cli -p hutch-benches
# Lua sources come from the lua-src crate: fetch it through cargo into a scratch project.
mkdir -p "$venv/luafetch/src" && echo 'fn main() {}' > "$venv/luafetch/src/main.rs"
printf '[package]\nname = "luafetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\nlua-src = "=551.1.0"\n' > "$venv/luafetch/Cargo.toml"
(cd "$venv/luafetch" && cargo fetch -q)
lua_src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/lua-src-551.1.0/lua-5.4.9 | head -n 1)

python3 benches/compare/compare.py --hutch target/release/hutch \
  --invert-bench target/release/hutch-invert-bench \
  --syscall-loop target/release/hutch-syscall-loop --lua-src "$lua_src" \
  ${catbox_python:+--catbox-python "$catbox_python"} \
  ${sandboxlib_python:+--sandboxlib-python "$sandboxlib_python"} \
  --rounds "$ROUNDS" --out benches/compare/latest.md "$@"
python3 benches/compare/splice-readme.py
