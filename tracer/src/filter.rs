//! The hand-rolled, flag-aware seccomp-bpf program installed in the child before `execve`.
//!
//! `TRACE` below is `RET_TRACE` for the ptrace engine and `RET_USER_NOTIF` for the notify
//! engine. Shape (x86_64 only):
//! 1. `arch != AUDIT_ARCH_X86_64` (i386 `int 0x80`, anything else) → `KILL_PROCESS`;
//! 2. `0x40000000 <= nr < 0x80000000` (the x32 ABI) → `KILL_PROCESS`; negative numbers →
//!    `ERRNO(ENOSYS)`, as without a filter;
//! 3. `open`/`openat` → `TRACE` only when the flags hold `O_WRONLY`, `O_RDWR`, `O_CREAT`,
//!    `O_TRUNC` or `__O_TMPFILE`, otherwise `ALLOW` (read-only opens never stop);
//! 4. `seccomp` with `SECCOMP_FILTER_FLAG_NEW_LISTENER` → `ERRNO(EPERM)`: a filter of the
//!    tracee's own answering `USER_NOTIF` would take precedence over ours (same action, newer
//!    filter), so its listener could let calls run that the tracer never sees;
//!    `clone` with `CLONE_UNTRACED` → `ERRNO(EPERM)`; `clone3` → `ERRNO(ENOSYS)` (its flags sit
//!    behind a pointer; libc falls back to `clone`), so every child is auto-attached;
//! 5. `io_uring_setup`/`_enter`/`_register` → `ERRNO(ENOSYS)`; `open_by_handle_at`, `ptrace`,
//!    `process_vm_writev`, `move_mount`, `mount_setattr` → `ERRNO(EPERM)`;
//! 6. with the network off: `socket` of a non-`AF_UNIX` family and every `connect` → `TRACE`;
//! 7. every other call of [`crate::syscalls::TABLE`] → `TRACE`;
//! 8. everything else → `ALLOW` (cacheable by the kernel's constant-action bitmap).

use crate::syscalls::TABLE;

const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const BPF_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const BPF_JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const BPF_JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// `AUDIT_ARCH_X86_64`.
pub(crate) const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const X32_BIT: u32 = 0x4000_0000;
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
/// Offset of the low 32 bits of argument `i` (little endian).
const fn off_arg(i: u32) -> u32 {
    16 + 8 * i
}

/// Calls the filter refuses with ENOSYS without a stop: io_uring would do I/O the tracer never
/// sees.
pub(crate) const REFUSED_ENOSYS: [(i64, &str); 3] = [
    (libc::SYS_io_uring_setup, "io_uring_setup"),
    (libc::SYS_io_uring_enter, "io_uring_enter"),
    (libc::SYS_io_uring_register, "io_uring_register"),
];

/// Calls the filter refuses with EPERM without a stop.
pub(crate) const REFUSED_EPERM: [(i64, &str); 5] = [
    (libc::SYS_open_by_handle_at, "open_by_handle_at"),
    (libc::SYS_ptrace, "ptrace"),
    (libc::SYS_process_vm_writev, "process_vm_writev"),
    (libc::SYS_move_mount, "move_mount"),
    (libc::SYS_mount_setattr, "mount_setattr"),
];

/// What the filter does, in words, for `hutch plan`: built from the same tables as `build`.
pub fn summary(network: bool) -> String {
    // open/openat and socket/connect have their own lines: they stop only on some arguments.
    let stopped: Vec<&str> = TABLE
        .iter()
        .filter(|(nr, _)| {
            !matches!(
                *nr,
                libc::SYS_open | libc::SYS_openat | libc::SYS_socket | libc::SYS_connect
            )
        })
        .map(|(_, spec)| spec.name)
        .collect();
    let names = |list: &[(i64, &'static str)]| -> String {
        list.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
    };
    let mut out = String::new();
    out.push_str("seccomp: arch other than x86_64 (int 0x80, x32) -> kill\n");
    out.push_str(
        "seccomp: open, openat with O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_TMPFILE -> judged by the tracer; read-only opens run untraced\n",
    );
    out.push_str(&format!(
        "seccomp: {} -> judged by the tracer\n",
        stopped.join(", ")
    ));
    if !network {
        out.push_str("seccomp: socket (not AF_UNIX), connect -> judged by the tracer and denied\n");
    }
    out.push_str("seccomp: clone with CLONE_UNTRACED -> EPERM; clone3 -> ENOSYS\n");
    out.push_str("seccomp: seccomp with SECCOMP_FILTER_FLAG_NEW_LISTENER -> EPERM\n");
    out.push_str(&format!("seccomp: {} -> ENOSYS\n", names(&REFUSED_ENOSYS)));
    out.push_str(&format!("seccomp: {} -> EPERM\n", names(&REFUSED_EPERM)));
    out.push_str("seccomp: everything else -> allow\n");
    out
}

const RET_ALLOW: u32 = libc::SECCOMP_RET_ALLOW;

/// How a call the tracer must judge reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Intercept {
    /// A `PTRACE_EVENT_SECCOMP` stop (ptrace engine).
    Trace = libc::SECCOMP_RET_TRACE,
    /// A notification on the listener (notify engine).
    Notify = libc::SECCOMP_RET_USER_NOTIF,
}
const RET_KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;
const fn ret_errno(errno: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | (errno as u32 & libc::SECCOMP_RET_DATA)
}

/// Flags that make an `open` a write. `__O_TMPFILE` alone: `O_TMPFILE` includes `O_DIRECTORY`,
/// which would stop every `opendir`.
pub(crate) const OPEN_WRITE_FLAGS: u32 =
    (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC) as u32 | 0o2000_0000;

/// `CLONE_UNTRACED`.
const CLONE_UNTRACED: u32 = 0x0080_0000;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// `if nr == n { A = low32(args[arg]); if A & mask { return hit } else { return miss } }`
fn arg_test(
    prog: &mut Vec<libc::sock_filter>,
    nr: i64,
    arg: u32,
    test: u16,
    k: u32,
    hit: u32,
    miss: u32,
) {
    prog.push(jump(BPF_JEQ_K, nr as u32, 0, 4));
    prog.push(stmt(BPF_LD_W_ABS, off_arg(arg)));
    prog.push(jump(test, k, 0, 1));
    prog.push(stmt(BPF_RET_K, hit));
    prog.push(stmt(BPF_RET_K, miss));
}

fn fixed(prog: &mut Vec<libc::sock_filter>, nr: i64, action: u32) {
    prog.push(jump(BPF_JEQ_K, nr as u32, 0, 1));
    prog.push(stmt(BPF_RET_K, action));
}

/// Builds the program for a policy with the network on or off; calls to judge get
/// `intercept` (`hit` for the ptrace engine, `RET_USER_NOTIF` for the notify engine).
pub(crate) fn build(network: bool, intercept: Intercept) -> Vec<libc::sock_filter> {
    let hit = intercept as u32;
    let mut prog = vec![
        stmt(BPF_LD_W_ABS, OFF_ARCH),
        jump(BPF_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(BPF_RET_K, RET_KILL),
        stmt(BPF_LD_W_ABS, OFF_NR),
        jump(BPF_JGE_K, X32_BIT, 0, 3),
        // Negative numbers (`syscall(-1)`) are not x32: the kernel's own answer is ENOSYS.
        jump(BPF_JGE_K, 0x8000_0000, 0, 1),
        stmt(BPF_RET_K, ret_errno(libc::ENOSYS)),
        stmt(BPF_RET_K, RET_KILL),
    ];
    arg_test(
        &mut prog,
        libc::SYS_openat,
        2,
        BPF_JSET_K,
        OPEN_WRITE_FLAGS,
        hit,
        RET_ALLOW,
    );
    arg_test(
        &mut prog,
        libc::SYS_open,
        1,
        BPF_JSET_K,
        OPEN_WRITE_FLAGS,
        hit,
        RET_ALLOW,
    );
    arg_test(
        &mut prog,
        libc::SYS_clone,
        0,
        BPF_JSET_K,
        CLONE_UNTRACED,
        ret_errno(libc::EPERM),
        RET_ALLOW,
    );
    fixed(&mut prog, libc::SYS_clone3, ret_errno(libc::ENOSYS));
    // A filter of the tracee's own that answers USER_NOTIF would win over ours (same action,
    // newer filter) and could CONTINUE calls we never see: no listener for the tracee.
    arg_test(
        &mut prog,
        libc::SYS_seccomp,
        1,
        BPF_JSET_K,
        libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32,
        ret_errno(libc::EPERM),
        RET_ALLOW,
    );
    for (nr, _) in REFUSED_ENOSYS {
        fixed(&mut prog, nr, ret_errno(libc::ENOSYS));
    }
    for (nr, _) in REFUSED_EPERM {
        fixed(&mut prog, nr, ret_errno(libc::EPERM));
    }
    if !network {
        // socket(AF_UNIX, ..) stays allowed; any other family stops.
        arg_test(
            &mut prog,
            libc::SYS_socket,
            0,
            BPF_JEQ_K,
            libc::AF_UNIX as u32,
            RET_ALLOW,
            hit,
        );
        fixed(&mut prog, libc::SYS_connect, hit);
    }
    for (nr, _) in TABLE {
        if matches!(
            *nr,
            libc::SYS_open | libc::SYS_openat | libc::SYS_socket | libc::SYS_connect
        ) {
            continue;
        }
        fixed(&mut prog, *nr, hit);
    }
    prog.push(stmt(BPF_RET_K, RET_ALLOW));
    prog
}

#[cfg(test)]
mod tests {
    use super::*;

    const RET_TRACE: u32 = libc::SECCOMP_RET_TRACE;

    /// A tiny cBPF interpreter for the subset the builder emits.
    fn run(prog: &[libc::sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let ins = prog[pc];
            pc += 1;
            match ins.code {
                BPF_LD_W_ABS => {
                    let o = ins.k as usize;
                    acc = u32::from_le_bytes(data[o..o + 4].try_into().unwrap());
                }
                BPF_RET_K => return ins.k,
                code => {
                    let taken = match code {
                        BPF_JEQ_K => acc == ins.k,
                        BPF_JGE_K => acc >= ins.k,
                        BPF_JSET_K => acc & ins.k != 0,
                        _ => panic!("unknown insn"),
                    };
                    pc += usize::from(if taken { ins.jt } else { ins.jf });
                }
            }
        }
    }

    #[test]
    fn notify_programs_differ_only_in_the_intercept_action() {
        for network in [true, false] {
            let trace = build(network, Intercept::Trace);
            let notify = build(network, Intercept::Notify);
            assert_eq!(trace.len(), notify.len());
            let mut swapped = 0;
            for (t, n) in trace.iter().zip(&notify) {
                assert_eq!((t.code, t.jt, t.jf), (n.code, n.jt, n.jf));
                if t.k != n.k {
                    assert_eq!((t.k, n.k), (RET_TRACE, libc::SECCOMP_RET_USER_NOTIF));
                    swapped += 1;
                }
            }
            assert!(swapped > 40, "{swapped} intercepts");
        }
    }

    #[test]
    fn decisions() {
        let prog = build(false, Intercept::Trace);
        let a = AUDIT_ARCH_X86_64;
        let nr = |n: i64| n as u32;
        assert_eq!(run(&prog, a, nr(libc::SYS_getppid), [0; 6]), RET_ALLOW);
        assert_eq!(
            run(
                &prog,
                a,
                nr(libc::SYS_openat),
                [0, 0, libc::O_RDONLY as u64, 0, 0, 0]
            ),
            RET_ALLOW
        );
        let dir = (libc::O_RDONLY | libc::O_DIRECTORY) as u64;
        assert_eq!(
            run(&prog, a, nr(libc::SYS_openat), [0, 0, dir, 0, 0, 0]),
            RET_ALLOW
        );
        for flags in [
            libc::O_WRONLY,
            libc::O_RDWR,
            libc::O_CREAT,
            libc::O_TRUNC,
            libc::O_TMPFILE,
        ] {
            assert_eq!(
                run(
                    &prog,
                    a,
                    nr(libc::SYS_openat),
                    [0, 0, flags as u64, 0, 0, 0]
                ),
                RET_TRACE
            );
            assert_eq!(
                run(&prog, a, nr(libc::SYS_open), [0, flags as u64, 0, 0, 0, 0]),
                RET_TRACE
            );
        }
        assert_eq!(run(&prog, a, nr(libc::SYS_unlinkat), [0; 6]), RET_TRACE);
        let listener = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
        assert_eq!(
            run(&prog, a, nr(libc::SYS_seccomp), [1, listener, 0, 0, 0, 0]),
            ret_errno(libc::EPERM)
        );
        assert_eq!(
            run(&prog, a, nr(libc::SYS_seccomp), [1, 0, 0, 0, 0, 0]),
            RET_ALLOW
        );
        assert_eq!(run(&prog, a, nr(libc::SYS_fchmod), [0; 6]), RET_TRACE);
        assert_eq!(
            run(&prog, a, nr(libc::SYS_io_uring_setup), [0; 6]),
            ret_errno(libc::ENOSYS)
        );
        assert_eq!(
            run(&prog, a, nr(libc::SYS_open_by_handle_at), [0; 6]),
            ret_errno(libc::EPERM)
        );
        assert_eq!(
            run(
                &prog,
                a,
                nr(libc::SYS_clone),
                [0x0080_0000 | 17, 0, 0, 0, 0, 0]
            ),
            ret_errno(libc::EPERM)
        );
        assert_eq!(
            run(&prog, a, nr(libc::SYS_clone), [17, 0, 0, 0, 0, 0]),
            RET_ALLOW
        );
        assert_eq!(
            run(
                &prog,
                a,
                nr(libc::SYS_socket),
                [libc::AF_UNIX as u64, 0, 0, 0, 0, 0]
            ),
            RET_ALLOW
        );
        assert_eq!(
            run(
                &prog,
                a,
                nr(libc::SYS_socket),
                [libc::AF_INET as u64, 0, 0, 0, 0, 0]
            ),
            RET_TRACE
        );
        assert_eq!(run(&prog, a, nr(libc::SYS_connect), [0; 6]), RET_TRACE);
        // Foreign architectures and x32 are killed, never allowed.
        assert_eq!(run(&prog, 0x4000_0003, 5, [0; 6]), RET_KILL);
        assert_eq!(run(&prog, a, 0x4000_0000 | 2, [0; 6]), RET_KILL);
        assert_eq!(run(&prog, a, 0x7fff_ffff, [0; 6]), RET_KILL);
        assert_eq!(run(&prog, a, u32::MAX, [0; 6]), ret_errno(libc::ENOSYS));
        let open = build(true, Intercept::Trace);
        assert_eq!(
            run(
                &open,
                a,
                nr(libc::SYS_socket),
                [libc::AF_INET as u64, 0, 0, 0, 0, 0]
            ),
            RET_ALLOW
        );
        assert_eq!(run(&open, a, nr(libc::SYS_connect), [0; 6]), RET_ALLOW);
    }
}
