#!/bin/sh
# A configure-like workload: dozens of tiny compile-and-link probes plus sed and tr, in $1.
set -e
cd "$1"
i=0
while [ $i -lt 24 ]; do
  printf '#include <stdio.h>\nint f%d(void){return %d;}\nint main(void){printf("%%d\\n", f%d());return 0;}\n' $i $i $i > conftest.c
  cc -o conftest conftest.c
  ./conftest > conftest.out
  rm -f conftest conftest.c
  echo "checking probe $i" | sed 's/probe/feature/' | tr 'a-z' 'A-Z' > /dev/null
  i=$((i + 1))
done
rm -f conftest.out
