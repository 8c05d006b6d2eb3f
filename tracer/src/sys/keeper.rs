//! The notify engine's keeper: a child of the tracer that is a subreaper, forks the command,
//! reaps every process of the tree that is orphaned to it, and kills what is left when the
//! command ends, when the tracer asks, or when the tracer dies.
//!
//! It runs in a process forked from a possibly multi-threaded caller and never execs, so it
//! only makes raw, async-signal-safe calls on memory prepared before the fork, and talks to
//! the tracer with fixed-size [`Record`]s on a pipe.

use std::os::fd::RawFd;

use nix::errno::Errno;

use super::child::{child_main, ChildPlan};

/// Everything the keeper needs, prepared before the fork.
pub struct KeeperPlan<'a> {
    /// The command's plan (its `parent` is replaced by the keeper's pid).
    pub child: ChildPlan<'a>,
    /// The tracer's pid: the keeper's parent, and the only process it takes orders from.
    pub tracer: i32,
    /// Write end of the record pipe.
    pub records: RawFd,
    /// Wait for every process of the tree instead of killing the rest when the command ends.
    pub wait_for_all: bool,
}

/// The signal the keeper gets when the tracer dies (`PR_SET_PDEATHSIG`).
const TRACER_DIED: i32 = libc::SIGTERM;
/// The signal the tracer sends to have the tree killed (checked against the sender's pid).
pub const KILL_TREE: i32 = libc::SIGUSR1;

/// One message from the keeper: `kind`, a pid and up to four values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// The command was forked with this pid.
    Started(i32),
    /// The command was reaped: raw wait status, user and system CPU in µs, max RSS in KiB.
    Exited {
        /// The command's pid.
        pid: i32,
        /// The raw wait status.
        status: i32,
        /// User CPU time, µs.
        user_us: i64,
        /// System CPU time, µs.
        system_us: i64,
        /// Peak RSS, KiB.
        max_rss_kib: i64,
    },
    /// A process still running when the tree was killed, killed and reaped.
    Leftover(i32),
    /// A process orphaned to the keeper died of a signal nobody in hutch sent.
    Died(i32),
    /// The keeper could not fork the command (errno).
    ForkFailed(i32),
    /// The whole tree is gone; the keeper exits.
    Done,
}

/// Size of one encoded record.
pub const RECORD_LEN: usize = 40;

impl Record {
    fn encode(self) -> [u8; RECORD_LEN] {
        let (kind, pid, vals): (u32, i32, [i64; 4]) = match self {
            Record::Started(pid) => (1, pid, [0; 4]),
            Record::Exited {
                pid,
                status,
                user_us,
                system_us,
                max_rss_kib,
            } => (2, pid, [i64::from(status), user_us, system_us, max_rss_kib]),
            Record::Leftover(pid) => (3, pid, [0; 4]),
            Record::Died(pid) => (4, pid, [0; 4]),
            Record::ForkFailed(errno) => (5, 0, [i64::from(errno), 0, 0, 0]),
            Record::Done => (6, 0, [0; 4]),
        };
        let mut out = [0u8; RECORD_LEN];
        out[0..4].copy_from_slice(&kind.to_ne_bytes());
        out[4..8].copy_from_slice(&pid.to_ne_bytes());
        for (i, v) in vals.iter().enumerate() {
            out[8 + 8 * i..16 + 8 * i].copy_from_slice(&v.to_ne_bytes());
        }
        out
    }

    /// Decodes one record; `None` for an unknown kind.
    pub fn decode(raw: &[u8; RECORD_LEN]) -> Option<Record> {
        let word =
            |i: usize| i64::from_ne_bytes(raw[8 + 8 * i..16 + 8 * i].try_into().unwrap_or([0; 8]));
        let kind = u32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let pid = i32::from_ne_bytes([raw[4], raw[5], raw[6], raw[7]]);
        Some(match kind {
            1 => Record::Started(pid),
            2 => Record::Exited {
                pid,
                status: word(0) as i32,
                user_us: word(1),
                system_us: word(2),
                max_rss_kib: word(3),
            },
            3 => Record::Leftover(pid),
            4 => Record::Died(pid),
            5 => Record::ForkFailed(word(0) as i32),
            6 => Record::Done,
            _ => return None,
        })
    }
}

/// Forks the keeper; returns its pid in the parent.
pub fn spawn_keeper(plan: &KeeperPlan<'_>) -> Result<i32, Errno> {
    // SAFETY: fork has no memory arguments; the child only runs `keeper_main`, which makes
    // raw async-signal-safe calls on memory prepared before the fork.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(Errno::last()),
        0 => keeper_main(plan),
        pid => Ok(pid),
    }
}

/// What one `wait4` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reaped {
    /// Nothing has ended yet.
    Nothing,
    /// One child was reaped (or the wait was interrupted).
    One,
    /// The keeper has no child left.
    NoChildren,
}

/// The keeper's state, on its own stack.
struct Keeper<'p, 'a> {
    plan: &'p KeeperPlan<'a>,
    command: i32,
    command_done: bool,
}

impl Keeper<'_, '_> {
    fn send(&self, record: Record) {
        let bytes = record.encode();
        // SAFETY: `bytes` is a live buffer; a record is smaller than PIPE_BUF, so the write is
        // atomic. A failed write means the tracer is gone: the death signal handles that.
        unsafe { libc::write(self.plan.records, bytes.as_ptr().cast(), bytes.len()) };
    }

    /// Reaps one child (`block`: wait for one); `killing`: it counts as a leftover.
    fn reap(&mut self, block: bool, killing: bool) -> Reaped {
        let mut status = 0;
        // SAFETY: rusage is plain old data.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let flags = libc::__WALL | if block { 0 } else { libc::WNOHANG };
        // SAFETY: status and usage are live and writable.
        let pid = unsafe { libc::wait4(-1, &mut status, flags, &mut usage) };
        if pid == 0 {
            return Reaped::Nothing;
        }
        if pid < 0 {
            return match Errno::last() {
                Errno::EINTR => Reaped::One,
                _ => Reaped::NoChildren,
            };
        }
        let us = |t: libc::timeval| t.tv_sec * 1_000_000 + t.tv_usec;
        if pid == self.command {
            self.command_done = true;
            self.send(Record::Exited {
                pid,
                status,
                user_us: us(usage.ru_utime),
                system_us: us(usage.ru_stime),
                max_rss_kib: usage.ru_maxrss,
            });
        } else if killing {
            self.send(Record::Leftover(pid));
        } else if libc::WIFSIGNALED(status) {
            self.send(Record::Died(pid));
        }
        Reaped::One
    }

    /// Reaps whatever already ended, without waiting.
    fn drain(&mut self) -> bool {
        loop {
            match self.reap(false, false) {
                Reaped::Nothing => return true,
                Reaped::NoChildren => return false,
                Reaped::One => {}
            }
        }
    }

    /// Kills every process of the tree: each child of the keeper (orphans included, since it
    /// is a subreaper), reaping one at a time so that grandchildren orphaned by a kill show up
    /// as children on the next round. Ends when the keeper has no child left.
    fn kill_tree(&mut self) {
        self.drain();
        loop {
            for_each_child(|pid| {
                // SAFETY: kill has no memory arguments.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            });
            if self.reap(true, true) == Reaped::NoChildren {
                return;
            }
        }
    }
}

/// Calls `f` with the pid of each child of the calling (single-threaded) process, from
/// `/proc/thread-self/children`, or from a scan of `/proc/*/stat` when the kernel lacks that
/// file (CONFIG_PROC_CHILDREN).
fn for_each_child(mut f: impl FnMut(i32)) {
    let mut buf = [0u8; 4096];
    // SAFETY: the path is NUL-terminated; the buffer is live and writable.
    let fd = unsafe {
        libc::open(
            c"/proc/thread-self/children".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd >= 0 {
        let mut pid = 0i32;
        loop {
            // SAFETY: as above.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            for &b in &buf[..n as usize] {
                if b.is_ascii_digit() {
                    pid = pid * 10 + i32::from(b - b'0');
                } else if pid > 0 {
                    f(pid);
                    pid = 0;
                }
            }
        }
        if pid > 0 {
            f(pid);
        }
        // SAFETY: fd is ours.
        unsafe { libc::close(fd) };
        return;
    }
    scan_proc_for_children(&mut f, &mut buf);
}

/// The fallback of [`for_each_child`]: every `/proc/<pid>/stat` whose parent is us.
fn scan_proc_for_children(f: &mut impl FnMut(i32), buf: &mut [u8; 4096]) {
    // SAFETY: getpid has no arguments.
    let me = unsafe { libc::getpid() };
    // SAFETY: the path is NUL-terminated.
    let dir = unsafe {
        libc::open(
            c"/proc".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if dir < 0 {
        return;
    }
    let mut entries = [0u8; 8192];
    loop {
        // SAFETY: the buffer is live and writable for its length.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir,
                entries.as_mut_ptr(),
                entries.len(),
            )
        };
        if n <= 0 {
            break;
        }
        let mut off = 0usize;
        while off + 19 < n as usize {
            let reclen = u16::from_ne_bytes([entries[off + 16], entries[off + 17]]) as usize;
            let name = &entries[off + 19..off + reclen];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            if !name.is_empty() && name.iter().all(u8::is_ascii_digit) && name.len() < 12 {
                let pid = name
                    .iter()
                    .fold(0i32, |acc, &b| acc * 10 + i32::from(b - b'0'));
                if parent_of(dir, name, buf) == Some(me) {
                    f(pid);
                }
            }
            off += reclen.max(1);
        }
    }
    // SAFETY: dir is ours.
    unsafe { libc::close(dir) };
}

/// The parent pid in `/proc/<name>/stat` (field 4, after the parenthesised command name).
fn parent_of(proc_dir: RawFd, name: &[u8], buf: &mut [u8; 4096]) -> Option<i32> {
    let mut path = [0u8; 24];
    path[..name.len()].copy_from_slice(name);
    path[name.len()..name.len() + 5].copy_from_slice(b"/stat");
    // SAFETY: `path` is NUL-terminated (zero-filled beyond the copied bytes).
    let fd = unsafe {
        libc::openat(
            proc_dir,
            path.as_ptr().cast(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: the buffer is live and writable for its length.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    if n <= 0 {
        return None;
    }
    let text = &buf[..n as usize];
    let close = text.iter().rposition(|&b| b == b')')?;
    // ") S 1234 ..." → the number after the state.
    let mut fields = text[close + 1..]
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    fields.next()?;
    let ppid = fields.next()?;
    Some(
        ppid.iter()
            .fold(0i32, |acc, &b| acc * 10 + i32::from(b.wrapping_sub(b'0'))),
    )
}

fn keeper_main(plan: &KeeperPlan<'_>) -> ! {
    // SAFETY: raw async-signal-safe calls only, on stack memory or memory prepared before
    // the fork; the keeper never returns into the caller's code.
    unsafe {
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            TRACER_DIED as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
            || libc::getppid() != plan.tracer
            || libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0
        {
            libc::_exit(127);
        }
        libc::prctl(libc::PR_SET_NAME, c"hutch-keeper".as_ptr(), 0, 0, 0);
        // An ignored SIGCHLD would reap the command behind our back: the keeper needs the
        // default; the command gets the caller's disposition back before it execs.
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        let mut caller_sigchld: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGCHLD, &dfl, &mut caller_sigchld);
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut caller: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_SETMASK, &all, &mut caller);
        let mut child = plan.child;
        child.parent = libc::getpid();
        child.sigmask = Some(caller);
        child.sigchld = Some(caller_sigchld);
        let command = libc::fork();
        if command == 0 {
            child_main(&child);
        }
        let mut keeper = Keeper {
            plan,
            command,
            command_done: false,
        };
        if command < 0 {
            keeper.send(Record::ForkFailed(Errno::last_raw()));
            keeper.send(Record::Done);
            libc::_exit(127);
        }
        keeper.send(Record::Started(command));
        // Hold nothing of the caller's: only the record pipe stays open.
        let keep = plan.records as libc::c_uint;
        if keep > 0 {
            libc::syscall(libc::SYS_close_range, 0, keep - 1, 0);
        }
        libc::syscall(libc::SYS_close_range, keep + 1, libc::c_uint::MAX, 0);

        let mut wanted: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut wanted);
        for sig in [libc::SIGCHLD, TRACER_DIED, KILL_TREE] {
            libc::sigaddset(&mut wanted, sig);
        }
        loop {
            if !keeper.drain() {
                // No child left: the command and every orphan are gone.
                break;
            }
            if keeper.command_done && !plan.wait_for_all {
                keeper.kill_tree();
                break;
            }
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let sig = libc::sigwaitinfo(&wanted, &mut info);
            if sig == TRACER_DIED && libc::getppid() != plan.tracer {
                keeper.kill_tree();
                libc::_exit(0);
            }
            if sig == KILL_TREE && info.si_pid() == plan.tracer {
                keeper.kill_tree();
                break;
            }
        }
        keeper.send(Record::Done);
        libc::_exit(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let all = [
            Record::Started(42),
            Record::Exited {
                pid: 42,
                status: 0x0300,
                user_us: 1_234_567,
                system_us: 89,
                max_rss_kib: 4096,
            },
            Record::Leftover(7),
            Record::Died(8),
            Record::ForkFailed(libc::EAGAIN),
            Record::Done,
        ];
        for record in all {
            assert_eq!(Record::decode(&record.encode()), Some(record));
        }
        let mut unknown = Record::Done.encode();
        unknown[0] = 99;
        assert_eq!(Record::decode(&unknown), None);
    }
}
