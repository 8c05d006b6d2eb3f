#!/bin/sh
# A tiny untrusted "build" for the README: it compiles into target/demo, as it should, and
# then tries to write outside it, as it should not.
set -u
out=target/demo
mkdir -p "$out"
export TMPDIR="$PWD/$out"
printf '#include <stdio.h>\nint main(void){puts("hello from the sandbox");return 0;}\n' > "$out/hello.c"
cc -o "$out/hello" "$out/hello.c" && "$out/hello"
{ echo "sneaky" > "$HOME/.hutch-demo-was-here"; } 2>/dev/null || echo "build: could not write to \$HOME"
{ echo "sneaky" > /tmp/hutch-demo-was-here; } 2>/dev/null || echo "build: could not write to /tmp"
exit 0
