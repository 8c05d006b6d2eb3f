#!/usr/bin/env python3
"""Side-by-side performance of hutch against running bare and against peer tools, in one run.

Called by benches/compare.sh, which installs the peers and builds hutch. Every workload runs its
modes interleaved (A B C A B C ...) for ROUNDS rounds; each sample records wall time and the CPU
time (user+sys) of the whole process tree, the sandbox's own supervisor included (wait4 rusage).
Prints medians, min-max and ratios to bare, as markdown, and writes them to OUT if given.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NOTIFY = "hutch -b ptrace (notify engine)"
PTRACE = "hutch -b ptrace (ptrace engine)"


def run_timed(argv, cwd=None, env=None):
    """Runs argv; returns (wall s, cpu s, exit code). Output is discarded."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=null, stderr=null,
                                stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode


def fmt(values, scale=1.0, digits=3):
    med = statistics.median(values) * scale
    return "%.*f" % (digits, med), "%.*f-%.*f" % (digits, min(values) * scale, digits,
                                                    max(values) * scale)


class Table:
    def __init__(self, title, columns):
        self.lines = ["", "### " + title, "", "| " + " | ".join(columns) + " |",
                      "|" + "---|" * len(columns)]

    def row(self, cells):
        self.lines.append("| " + " | ".join(str(c) for c in cells) + " |")

    def text(self):
        return "\n".join(self.lines)


def interleave(modes, rounds, prepare=None, check=True, per_sample=1, after=None):
    """modes: [(name, argv, cwd, env)]. Returns {name: [(wall, cpu)]} and failures."""
    samples = {name: [] for name, *_ in modes}
    failures = {}
    for r in range(rounds):
        for name, argv, cwd, env in modes:
            if name in failures:
                continue
            if prepare:
                prepare(name)
            wall = cpu = 0.0
            for _ in range(per_sample):
                w, c, code = run_timed(argv, cwd, env)
                if check and code != 0:
                    failures[name] = "exit %d on round %d: %s" % (code, r + 1, " ".join(argv))
                    break
                wall += w
                cpu += c
            else:
                samples[name].append((wall / per_sample, cpu / per_sample))
                if after:
                    after(name)
        print("  round %d/%d done" % (r + 1, rounds), file=sys.stderr)
    return samples, failures


def tracer_tables(a, out):
    """Tracer overhead: a Lua build, a configure-like script and a tar extraction."""
    work = tempfile.mkdtemp(prefix="hutch-cmp-")
    try:
        lua = os.path.join(work, "lua")
        shutil.copytree(a.lua_src, lua)
        shutil.copy(os.path.join(HERE, "lua.mk"), os.path.join(lua, "Makefile"))
        conf = os.path.join(work, "conf")
        os.mkdir(conf)
        tarball = os.path.join(work, "files.tar")
        src = os.path.join(work, "tarsrc")
        for i in range(20):
            d = os.path.join(src, "d%02d" % i)
            os.makedirs(d)
            for j in range(50):
                with open(os.path.join(d, "f%02d" % j), "w") as f:
                    f.write("x" * (j * 10))
        subprocess.check_call(["tar", "cf", tarball, "-C", src, "."])
        shutil.rmtree(src)
        untar = os.path.join(work, "untar")
        os.mkdir(untar)

        tmp = os.path.join(work, "tmp")
        os.mkdir(tmp)
        env = dict(os.environ, TMPDIR=tmp)
        workloads = [
            ("Lua build (`make -j2`, %d C files)" % len([f for f in os.listdir(lua) if f.endswith(".c")]),
             lua, ["sh", "-c", "make -s clean && make -s -j2"]),
            ("configure-like script (24 compile+link probes, sed, tr)", conf,
             ["sh", os.path.join(HERE, "configure-like.sh"), conf]),
            # Each sample extracts into a fresh directory: deleting the previous extraction
            # first made even the bare figures swing from 0.1 s to 2.3 s on ext4.
            ("`tar x` of 1 000 files into the writable directory", untar,
             ["sh", "-c", 'd=$(mktemp -d -p "%s") && tar xf "%s" -C "$d"' % (untar, tarball)]),
        ]
        write_set = ("open,openat,creat,truncate,mkdir,mkdirat,mknod,mknodat,unlink,unlinkat,"
                     "rmdir,rename,renameat,renameat2,link,linkat,symlink,symlinkat,chmod,"
                     "fchmodat,chown,lchown,fchownat,utimensat")
        report = os.path.join(work, "report.json")
        peaks = []

        def read_peak(name):
            if name == NOTIFY:
                with open(report) as f:
                    peaks.append(json.load(f)["supervisor_max_rss_kib"] / 1024.0)

        for title, wdir, cmd in workloads:
            modes = [("bare", cmd, wdir, env)]
            for name, engine in ((NOTIFY, "notify"), (PTRACE, "ptrace")):
                hutch_cmd = [a.hutch, "run", "-b", "ptrace", "--tracer-engine", engine, "--quiet",
                             "-w", wdir, "-w", tmp, "-w", "/dev", "--report", report, "--"] + cmd
                modes.append((name, hutch_cmd, wdir, env))
            if a.catbox_python:
                modes.append(("catbox 1.7.0", [a.catbox_python, os.path.join(HERE, "catbox_run.py"),
                                               wdir, tmp, "/dev", "--"] + cmd, wdir, env))
            if shutil.which("strace"):
                modes.append(("strace -f", ["strace", "-f", "-qq", "-o", "/dev/null"] + cmd, wdir, env))
                modes.append(("strace -f --seccomp-bpf (write set)",
                              ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=" + write_set,
                               "-o", "/dev/null"] + cmd, wdir, env))
            if shutil.which("proot"):
                modes.append(("proot", ["proot", "-w", wdir] + cmd, wdir, env))
            print("workload: " + title, file=sys.stderr)
            run_timed(cmd, wdir, env)  # warm the page cache
            lua = wdir == workloads[0][1]
            samples, failures = interleave(modes, a.rounds, after=read_peak if lua else None)
            table = Table(title, ["mode", "CPU median s", "CPU min-max", "CPU x bare",
                                  "wall median s", "wall min-max", "wall x bare"])
            base_cpu = statistics.median(c for _, c in samples["bare"])
            base_wall = statistics.median(w for w, _ in samples["bare"])
            for name, *_ in modes:
                if name in failures:
                    table.row([name, "failed: " + failures[name], "", "", "", "", ""])
                    continue
                cpus = [c for _, c in samples[name]]
                walls = [w for w, _ in samples[name]]
                cm, cr = fmt(cpus)
                wm, wr = fmt(walls)
                table.row([name, cm, cr, "%.3f" % (statistics.median(cpus) / base_cpu), wm, wr,
                           "%.3f" % (statistics.median(walls) / base_wall)])
            out.append(table.text())
            print(table.text())
        if peaks:
            # The supervisor's peak RSS, from the reports of the Lua-build runs above.
            table = Table("Peak RSS of the hutch supervisor during the Lua build (notify engine)",
                          ["samples", "median MiB", "min-max MiB"])
            m, r = fmt(peaks, 1.0, 2)
            table.row([len(peaks), m, r])
            out.append(table.text())
            print(table.text())
    finally:
        shutil.rmtree(work, ignore_errors=True)


def read_only_tables(a, out):
    """Calls that never reach the tracer: stat and read-only open loops (ns per call, timed
    inside the loop), and a read-heavy real program (`grep -r` over /usr/include)."""
    target = "/usr/include/stdio.h"
    hutch = [a.hutch, "run", "-b", "ptrace", "--quiet", "-w", "/tmp", "--"]
    loops = [("stat", "`stat` loop"), ("open", "read-only `open`+`close` loop")]
    table = Table("Read-only calls: ns per call inside a loop of 200 000 (medians of %d)" % a.rounds,
                  ["loop", "bare ns", "hutch ns", "hutch x bare", "hutch --collect-only ns",
                   "--collect-only x bare"])
    print("workload: read-only loops", file=sys.stderr)
    for op, title in loops:
        argv = [a.syscall_loop, op, "200000", target]
        modes = [("bare", argv), ("hutch", hutch + argv),
                 ("collect", hutch[:4] + ["--collect-only"] + hutch[4:] + argv)]
        ns = {name: [] for name, _ in modes}
        for _ in range(a.rounds):
            for name, cmd in modes:
                text = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      check=True).stdout.decode()
                ns[name].append(int(text.split("ns_per_op=")[1].split()[0]))
        med = {name: statistics.median(v) for name, v in ns.items()}
        table.row([title, "%d" % med["bare"], "%d" % med["hutch"],
                   "%.3f" % (med["hutch"] / med["bare"]), "%d" % med["collect"],
                   "%.3f" % (med["collect"] / med["bare"])])
    out.append(table.text())
    print(table.text())
    # Five passes, so that hutch's start-up (a few ms) is not what the ratio measures.
    cmd = ["sh", "-c", "for i in 1 2 3 4 5; do grep -r -c hutch-never-matches /usr/include; done"]
    modes = [("bare", cmd, None, None), ("hutch -b ptrace", hutch + cmd, None, None)]
    print("workload: grep -r", file=sys.stderr)
    samples, failures = interleave(modes, a.rounds, check=False)
    table = Table("`grep -r` over /usr/include, five passes (read-only opens, reads, stats)",
                  ["mode", "CPU median s", "CPU min-max", "CPU x bare", "wall median s",
                   "wall x bare"])
    base_cpu = statistics.median(c for _, c in samples["bare"])
    base_wall = statistics.median(w for w, _ in samples["bare"])
    for name, *_ in modes:
        cpus = [c for _, c in samples[name]]
        walls = [w for w, _ in samples[name]]
        cm, cr = fmt(cpus)
        wm, _ = fmt(walls)
        table.row([name, cm, cr, "%.3f" % (statistics.median(cpus) / base_cpu), wm,
                   "%.3f" % (statistics.median(walls) / base_wall)])
    out.append(table.text())
    print(table.text())


def startup_table(a, out):
    """Startup latency of `true`."""
    modes = [("bare", ["true"], None, None),
             ("hutch -b userns", [a.hutch, "run", "-b", "userns", "--", "true"], None, None)]
    if shutil.which("bwrap"):
        # The same isolation as hutch's userns backend: user, mount, pid, ipc, uts namespaces,
        # read-only root, fresh /proc and /dev, dies with its parent.
        modes.append(("bwrap (same isolation)",
                      ["bwrap", "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                       "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
                       "--die-with-parent", "true"], None, None))
    modes.append(("hutch -b ptrace", [a.hutch, "run", "-b", "ptrace", "--", "true"], None, None))
    if shutil.which("firejail"):
        modes.append(("firejail", ["firejail", "--quiet", "--noprofile", "true"], None, None))
    print("workload: startup", file=sys.stderr)
    samples, failures = interleave(modes, a.rounds, per_sample=a.startup_runs)
    table = Table("Startup latency: `true`, mean of %d runs per sample" % a.startup_runs,
                  ["mode", "wall median ms", "wall min-max ms", "x bare", "x bwrap"])
    base = statistics.median(w for w, _ in samples["bare"])
    bw = statistics.median(w for w, _ in samples["bwrap (same isolation)"]) \
        if samples.get("bwrap (same isolation)") else None
    for name, *_ in modes:
        if name in failures:
            table.row([name, "failed: " + failures[name], "", "", ""])
            continue
        walls = [w for w, _ in samples[name]]
        m, r = fmt(walls, 1e3, 2)
        med = statistics.median(walls)
        table.row([name, m, r, "%.1f" % (med / base), "%.2f" % (med / bw) if bw else "-"])
    out.append(table.text())
    print(table.text())


def inversion_table(a, out):
    """`hutch plan` inversion of a 100 000-entry tree vs sandboxlib's invert_paths."""
    work = tempfile.mkdtemp(prefix="hutch-inv-")
    try:
        tree = os.path.join(work, "tree")
        os.mkdir(tree)
        members = subprocess.check_output([a.invert_bench, "gen", tree, "100000", "100"],
                                          stderr=subprocess.DEVNULL).decode().split()
        plan = [a.hutch, "plan", "-b", "userns", "--root", tree]
        for m in members:
            plan += ["-w", m]
        plan += ["--", "true"]
        modes = [("hutch plan", plan, None, None)]
        if a.sandboxlib_python:
            script = os.path.join(work, "sbl.py")
            with open(script, "w") as f:
                f.write("import os, sys\nimport sandboxlib.linux_user_chroot as l\n"
                        "root = sys.argv[1]\n"
                        "w = [os.path.join(root, m.lstrip('/')) for m in sys.argv[2:]]\n"
                        "print(len(sorted(l.invert_paths(os.walk(root), w))))\n")
            modes.append(("sandboxlib 0.3.1 invert_paths", [a.sandboxlib_python, script, tree] + members,
                          work, None))
        print("workload: inversion", file=sys.stderr)
        samples, failures = interleave(modes, a.rounds)
        table = Table("Inversion of a 100 000-entry tree, 100 writable directories (whole process)",
                      ["tool", "wall median ms", "wall min-max ms", "x hutch"])
        base = statistics.median(w for w, _ in samples["hutch plan"]) if samples["hutch plan"] else None
        for name, *_ in modes:
            if name in failures:
                table.row([name, "failed: " + failures[name], "", ""])
                continue
            walls = [w for w, _ in samples[name]]
            m, r = fmt(walls, 1e3, 1)
            table.row([name, m, r, "%.1f" % (statistics.median(walls) / base) if base else "-"])
        out.append(table.text())
        print(table.text())
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--hutch", required=True)
    p.add_argument("--invert-bench", required=True)
    p.add_argument("--syscall-loop", required=True)
    p.add_argument("--lua-src", required=True)
    p.add_argument("--catbox-python")
    p.add_argument("--sandboxlib-python")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--startup-runs", type=int, default=20)
    p.add_argument("--only", choices=["tracer", "read-only", "startup", "inversion"])
    p.add_argument("--out")
    a = p.parse_args()
    # Workloads run in their own directories: resolve every program path first.
    a.hutch = os.path.abspath(a.hutch)
    a.invert_bench = os.path.abspath(a.invert_bench)
    a.syscall_loop = os.path.abspath(a.syscall_loop)
    a.lua_src = os.path.abspath(a.lua_src)
    out = ["## Latest comparison", "",
           "Machine: %s, %d cores, kernel %s; %s; %d interleaved rounds; medians." % (
               platform.processor() or platform.machine(), os.cpu_count(), platform.release(),
               time.strftime("%Y-%m-%d"), a.rounds)]
    steps = {"tracer": tracer_tables, "read-only": read_only_tables, "startup": startup_table,
             "inversion": inversion_table}
    for name, step in steps.items():
        if a.only in (None, name):
            step(a, out)
    if a.out:
        with open(a.out, "w") as f:
            f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
