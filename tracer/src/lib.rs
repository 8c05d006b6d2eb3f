//! `hutch-tracer`: run a command and its whole process tree under a write policy, with
//! ptrace + a flag-aware seccomp-bpf filter, a violation log, faked ownership and a Landlock
//! backstop.
//!
//! ```no_run
//! use hutch_pathset::PathSet;
//! use hutch_tracer::{ExitStatus, Policy, Tracer};
//!
//! let policy = Policy::new(PathSet::from_entries(["/tmp/build"]).unwrap());
//! let outcome = Tracer::new(policy)
//!     .command("sh", ["-c", "echo hi > /tmp/build/out; touch /etc/nope"])
//!     .run()
//!     .unwrap();
//! assert_eq!(outcome.status, ExitStatus::Exited(1));
//! for v in &outcome.violations {
//!     println!("{} {} {:?} -> {}", v.pid, v.syscall, v.path, v.resolved.display());
//! }
//! ```
//!
//! # How it works
//!
//! Both engines ([`Engine`]) share everything but the delivery of a call:
//!
//! * The child blocks on a pipe until the tracer is ready and the `child_initialized` hook
//!   has run, then sets `PR_SET_PDEATHSIG(SIGKILL)`, `PR_SET_NO_NEW_PRIVS`, enforces the
//!   Landlock ruleset (unless `collect_only`), installs the seccomp filter and execs.
//! * The filter (see `filter.rs`) selects only write-capable calls; read-only opens and every
//!   other call run at full speed.
//! * A selected call is judged on the tracer's thread: its paths are read with
//!   `process_vm_readv` (page by page, at most `PATH_MAX`), resolved as the caller sees them
//!   (its cwd, the dirfd through `/proc/<tid>/fd/N`, its root, `/proc/self` meaning the
//!   caller, symlinks followed except where the call does not follow them, a dangling final
//!   symlink followed to where it would create), then matched component-wise with
//!   [`hutch_pathset::PathSet::contains`]. A denied call does not run and returns `-EACCES`.
//!
//! **[`Engine::Notify`]** (the default on Linux 5.19+): the filter answers
//! `SECCOMP_RET_USER_NOTIF`; the child installs it with a listener
//! (`SECCOMP_FILTER_FLAG_NEW_LISTENER | WAIT_KILLABLE_RECV`) and sends the listener to the
//! tracer over `SCM_RIGHTS`. One `poll` loop receives each notification, judges it, checks
//! `SECCOMP_IOCTL_NOTIF_ID_VALID` and answers `CONTINUE`, an error, or a faked result. The
//! listener asks for `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (6.6+), so the hand-over between
//! the caller and the tracer stays on one CPU. A keeper process (a child of the tracer,
//! `PR_SET_CHILD_SUBREAPER`, `PR_SET_PDEATHSIG`) forks the command, reports its exit status
//! and rusage, reaps every orphan of the tree, kills and reports the leftovers when the
//! command exits, and kills the whole tree when the tracer dies or asks. Nothing stops on
//! fork, clone, exec or exit.
//!
//! **[`Engine::Ptrace`]**: the tracer `PTRACE_SEIZE`s the child (options EXITKILL,
//! TRACESECCOMP, TRACESYSGOOD, TRACEFORK, TRACEVFORK, TRACECLONE, TRACEEXEC); children are
//! auto-attached. The filter answers `SECCOMP_RET_TRACE`; one `wait4(-1, __WALL |
//! __WNOTHREAD)` loop decodes raw statuses by hand (real-time signals are fine), re-injects
//! signals, answers group-stops with `PTRACE_LISTEN`, reads each stop with
//! `PTRACE_GET_SYSCALL_INFO` and skips a denied call (number -1, return value written).
//!
//! When the main command exits, the remaining processes are killed and reported as leftovers
//! (or waited for, with [`Policy::wait_for_all`]).
//!
//! # Cost (measured on the 2-vCPU development VM)
//!
//! * A configure-like script (24 × cc compile+link, sed, tr; `benches/compare.sh`): notify
//!   1.03× bare CPU, ptrace 1.12–1.14× (a stop for every fork, exec and exit, each of which
//!   must wake the tracer's idle vCPU), `strace -f` 11×, catbox 13×.
//! * One write-capable call costs one round trip to the tracer plus ~5 syscalls of its own.
//! * Calls the filter lets through never reach the tracer, but still pay for the layers
//!   underneath. On the development VM, pinned: the seccomp entry costs ~80–130 ns per call
//!   even when the kernel's bitmap allows it without running the filter (a `stat` loop:
//!   ~1.05×); a read-only `open`+`close` loop costs 1.06× with the filter alone, 1.13× with
//!   Landlock handling only `WRITE_FILE`, 1.18× with every write right but `TRUNCATE`, and
//!   ~1.4–1.5× with the full backstop, because with `TRUNCATE` handled Landlock walks the
//!   path to `/` at every open to record whether the file may be truncated later. Dropping
//!   `TRUNCATE` would reopen a race (a thread rewriting the path of a `truncate(2)` or an
//!   `O_RDONLY|O_TRUNC` open after the check), so the backstop keeps it.
//!
//! # Coverage (x86_64)
//!
//! | calls | handling |
//! |---|---|
//! | `open`, `openat` with O_WRONLY/O_RDWR/O_CREAT/O_TRUNC/__O_TMPFILE, `openat2` (flags read from `open_how`), `creat`, `truncate` | judged; a missing file without O_CREAT gives ENOENT, no violation |
//! | `mkdir(at)` | judged; an existing ancestor of a writable path gives EEXIST, no violation |
//! | `mknod(at)`, `unlink(at)`, `rmdir`, `rename(at,at2)` (both paths), `link(at)` (both), `symlink(at)` (new path) | judged, final component not followed |
//! | `chmod`, `fchmodat`, `fchmodat2`, `fchmod` (by its fd) | judged; modes recorded with `fake_ownership` |
//! | `chown`, `lchown`, `fchownat`, `fchown` (by its fd) | judged; faked (success, not done) and recorded with `fake_ownership` |
//! | `utime`, `utimes`, `futimesat`, `utimensat` (NULL path: by its fd) | judged |
//! | `(l)setxattr`, `(l)removexattr`, `fsetxattr`, `fremovexattr` (by fd), `setxattrat`, `removexattrat` | judged |
//! | `bind` | judged when it creates an `AF_UNIX` path socket |
//! | `mount` (by its target; bind and move mounts by their source too), `umount2`, `pivot_root`, `chroot` | judged; after an allowed chroot paths resolve through `/proc/<tid>/root`. With Landlock on, the kernel refuses every mount change of the sandboxed tree anyway |
//! | `socket` (non-AF_UNIX), `connect` | denied and recorded when the network is off |
//! | `io_uring_setup/enter/register` | ENOSYS from the filter |
//! | `open_by_handle_at`, `ptrace`, `process_vm_writev`, `move_mount`, `mount_setattr` | EPERM from the filter |
//! | `clone(CLONE_UNTRACED)` / `clone3` | EPERM / ENOSYS from the filter, so no child escapes tracing |
//! | i386 (`int 0x80`), x32, any other arch | the process is killed by the filter |
//! | `kill` & co. to a process outside the sandbox | EPERM from Landlock's signal scope (ABI 6+, not in `collect_only`) |
//!
//! # Gaps (known, honest)
//!
//! * **TOCTOU.** Another thread (or process sharing memory) can rewrite a path between the
//!   check and the kernel's use, or `dup2` over a descriptor judged by an fd form. Landlock blocks the write itself for everything it covers
//!   (file creation, writes, truncation, removal, renames, links), but **Landlock does not
//!   cover chmod, chown, utime or xattrs**: for those the tracer's check is best-effort under
//!   such a race. In `collect_only` mode (no Landlock) and on kernels without Landlock every
//!   check is best-effort.
//! * `sendto`/`sendmsg` with an address on an inherited socket are not checked.
//! * `fsopen`/`fsmount`/`open_tree` are allowed (`move_mount` is refused, so nothing is
//!   attached); mount namespaces made with `unshare` inside the box can make the tracer's
//!   view differ from the tracee's.
//! * `ftruncate`, `fallocate`, `write` on an fd that was already writable are not checked
//!   (the fd's open was).
//! * With [`Tracer::chroot`], reported resolved paths are host paths.
//! * Landlock rules are placed on the nearest existing ancestor of a writable path that does
//!   not exist yet, so the backstop can be wider than the policy there (the tracer still
//!   enforces the exact set).
//! * i386 programs cannot run at all (killed), rather than being traced.
//! * Re-opening an inherited descriptor by name (`> /dev/stdout`, `/proc/self/fd/1`) is a new
//!   open of the file behind it and is judged like any open (Landlock refuses it too when the
//!   file is outside): give the command pipes, or make its log file writable. Pipes, sockets
//!   and anonymous inodes reached this way are always allowed.
//! * With the network off, only `socket` and `connect` are judged; the Landlock TCP rules
//!   (ABI 4) are not used.
//! * Ptrace engine: a denied call costs one stop plus 2 extra `PTRACE_POKEUSER`s;
//!   `PTRACE_SET_SYSCALL_INFO` (Linux 6.14) is not used yet.
//! * Notify engine: `child_died_unexpectedly` fires for the main command and for orphans
//!   reaped by the keeper, not for a process reaped by its own (traced) parent. Without
//!   Landlock's signal scope (ABI < 6, or `collect_only`) a process of the tree can SIGKILL
//!   the keeper: the command dies with it (PDEATHSIG) but other processes of the tree are
//!   orphaned and keep running, still under the filter; once the tracer has returned, every
//!   call the filter selects fails with ENOSYS. (Under the ptrace engine, killing the tracer
//!   kills the tree.)
//! * Notify engine on a kernel older than 5.19 (only when chosen explicitly): a signal that
//!   interrupts a judged call can make it restart and be judged, and recorded, again.
#![deny(unsafe_code, clippy::undocumented_unsafe_blocks)]

mod command;
mod error;
mod filter;
mod judge;
mod net;
mod notify;
mod outcome;
mod resolve;
mod run;
mod sandbox;
mod stop;
mod sys;
mod syscalls;

pub use command::{Stdio, Tracer};
pub use error::TraceError;
pub use filter::summary as filter_summary;
pub use hutch_pathset::PathSet;
pub use outcome::{
    Engine, ExitStatus, LandlockStatus, NetworkViolation, Observer, ObserverError, Policy,
    TraceOutcome, Usage, Violation,
};

/// Reads a NUL-terminated path of process `pid` at `addr` with `process_vm_readv` (the
/// tracer's path read, exposed for benchmarks). The caller must be allowed to read the
/// process's memory (itself, or a tracee).
pub fn read_remote_path(pid: u32, addr: u64, buf: &mut Vec<u8>) -> Result<(), nix::errno::Errno> {
    resolve::read_path(pid as i32, addr, buf)
}
