# Runs a command under catbox 1.7.0 (Python 2 only): catbox_run.py WRITABLE -- CMD...
# catbox traces the forked Python child; the child execs the command.
import os
import sys

import catbox

sep = sys.argv.index("--")
writable = sys.argv[1:sep]
cmd = sys.argv[sep + 1:]


def child():
    os.execvp(cmd[0], cmd)


ret = catbox.run(child, writable_paths=writable)
sys.exit(ret.code)
