//! The notify engine: one `poll` loop on the calling thread over the seccomp listener and the
//! keeper's records.
//!
//! The child installs the filter with a listener and sends it over a socket; every call the
//! filter selects blocks in the kernel until this loop answers it (`CONTINUE`, an error, or a
//! faked result). Forks, execs and exits never reach the tracer: the keeper (see
//! `sys/keeper.rs`) reaps the tree and reports the command's status, the leftovers it killed
//! and the orphans that died of a foreign signal.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

use hutch_pathset::PathSet;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::command::{Ended, Tracer};
use crate::error::TraceError;
use crate::judge::{Judge, Verdict};
use crate::outcome::{Engine, ExitStatus, LandlockStatus, TraceOutcome, Usage};
use crate::sys::{self, Listener, Record, RECORD_LEN};

/// The tracer's ends of the pipes and sockets of a notify run.
pub(crate) struct Ends {
    /// The keeper's pid.
    pub(crate) keeper: i32,
    /// Read end of the keeper's record pipe.
    pub(crate) records: OwnedFd,
    /// Where the child sends the listener.
    pub(crate) socket: OwnedFd,
    /// The child's `(stage, errno)` report.
    pub(crate) report: OwnedFd,
    /// Writing a byte here lets the child go on to exec.
    pub(crate) release: OwnedFd,
}

/// One notify run.
pub(crate) struct Session<'s> {
    judge: Judge<'s>,
    exe: PathBuf,
    landlock: LandlockStatus,
    keeper: i32,
    main_status: Option<ExitStatus>,
    usage: Usage,
    /// The tree is being killed on our request: deaths by signal are expected.
    killing: bool,
    abort: Option<TraceError>,
    done: bool,
}

impl<'s> Session<'s> {
    pub(crate) fn new(
        tracer: &'s mut Tracer<'_>,
        writable: PathSet,
        landlock: LandlockStatus,
        exe: PathBuf,
    ) -> Session<'s> {
        Session {
            judge: Judge::new(tracer, writable),
            exe,
            landlock,
            keeper: 0,
            main_status: None,
            usage: Usage::default(),
            killing: false,
            abort: None,
            done: false,
        }
    }

    /// Serves the run until the keeper reports that the whole tree is gone.
    pub(crate) fn run(mut self, ends: Ends) -> Result<TraceOutcome, TraceError> {
        self.keeper = ends.keeper;
        let mut release = Some(ends.release);
        let mut socket = Some(ends.socket);
        let mut listener: Option<Listener> = None;
        let mut buf = [0u8; RECORD_LEN * 64];
        while !self.done {
            let mut fds = Vec::with_capacity(3);
            fds.push(PollFd::new(ends.records.as_fd(), PollFlags::POLLIN));
            let socket_at = socket.as_ref().map(|s| {
                fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            let listener_at = listener.as_ref().map(|l| {
                fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(errno) => {
                    self.fail(TraceError::Sys {
                        call: "poll",
                        errno,
                    });
                    break;
                }
            }
            let mut ready = [PollFlags::empty(); 3];
            for (flags, fd) in ready.iter_mut().zip(&fds) {
                *flags = fd.revents().unwrap_or(PollFlags::empty());
            }
            drop(fds);
            if let Some(i) = listener_at {
                if ready[i].contains(PollFlags::POLLIN) {
                    self.serve(listener.as_ref().expect("polled"));
                } else if !ready[i].is_empty() {
                    // POLLHUP: no process uses the filter any more.
                    listener = None;
                }
            }
            if let Some(i) = socket_at {
                if !ready[i].is_empty() {
                    // The child sent the listener, or closed its end (set-up failed).
                    if let Ok(Some(l)) = Listener::receive(socket.as_ref().expect("polled")) {
                        l.sync_wake_up();
                        listener = Some(l);
                    }
                    socket = None;
                }
            }
            if !ready[0].is_empty() {
                self.read_records(&ends.records, &mut buf, &mut release);
            }
        }
        drop(listener);
        self.reap_keeper();
        let ended = Ended {
            status: self.main_status,
            records: std::mem::take(&mut self.judge.records),
            landlock: self.landlock,
            usage: self.usage,
            engine: Engine::Notify,
        };
        ended.conclude(self.abort.take(), &ends.report, &self.exe)
    }

    /// Answers one pending notification.
    fn serve(&mut self, listener: &Listener) {
        let notif = match listener.recv() {
            Ok(n) => n,
            // The caller was interrupted or killed after the poll.
            Err(Errno::ENOENT) => return,
            Err(errno) => {
                self.fail(TraceError::Sys {
                    call: "SECCOMP_IOCTL_NOTIF_RECV",
                    errno,
                });
                return;
            }
        };
        let verdict = if self.killing {
            Verdict::Skip(-i64::from(libc::EPERM))
        } else {
            self.judge
                .decide(notif.pid, notif.arch, notif.nr, &notif.args)
        };
        if let Some(err) = self.judge.failed.take() {
            self.fail(err);
        }
        // What was read from the caller's memory and /proc is only meaningful if the caller
        // is still the one that made the call (its pid could otherwise have been reused).
        if !listener.id_valid(notif.id) {
            return;
        }
        let ret = match verdict {
            Verdict::Allow => None,
            Verdict::Skip(ret) => Some(ret),
        };
        match listener.send(notif.id, ret) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(errno) => self.fail(TraceError::Sys {
                call: "SECCOMP_IOCTL_NOTIF_SEND",
                errno,
            }),
        }
    }

    fn read_records(
        &mut self,
        records: &OwnedFd,
        buf: &mut [u8; RECORD_LEN * 64],
        release: &mut Option<OwnedFd>,
    ) {
        let n = match nix::unistd::read(records, buf) {
            Ok(n) => n,
            Err(Errno::EINTR) => return,
            Err(_) => 0,
        };
        if n == 0 {
            // The keeper is gone without saying Done: it was killed.
            self.done = true;
            if self.abort.is_none() {
                self.abort = Some(TraceError::Sys {
                    call: "keeper",
                    errno: Errno::ECHILD,
                });
            }
            return;
        }
        for chunk in buf[..n].chunks_exact(RECORD_LEN) {
            let raw: &[u8; RECORD_LEN] = chunk.try_into().expect("exact chunk");
            match Record::decode(raw) {
                Some(record) => self.record(record, release),
                None => self.fail(TraceError::Sys {
                    call: "keeper",
                    errno: Errno::EPROTO,
                }),
            }
        }
    }

    fn record(&mut self, record: Record, release: &mut Option<OwnedFd>) {
        match record {
            Record::Started(pid) => {
                let hook = self
                    .judge
                    .observer
                    .as_mut()
                    .map(|o| o.child_initialized(pid as u32));
                if let Some(Err(e)) = hook {
                    release.take();
                    self.fail(TraceError::Observer(e));
                } else if let Some(fd) = release.take() {
                    if let Err(errno) = sys::release(fd) {
                        self.fail(TraceError::Sys {
                            call: "release",
                            errno,
                        });
                    }
                }
            }
            Record::Exited {
                pid,
                status,
                user_us,
                system_us,
                max_rss_kib,
            } => {
                let exit = if libc::WIFSIGNALED(status) {
                    ExitStatus::Signaled(libc::WTERMSIG(status))
                } else {
                    ExitStatus::Exited(libc::WEXITSTATUS(status))
                };
                self.main_status = Some(exit);
                let us = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
                self.usage = Usage {
                    user: us(user_us),
                    system: us(system_us),
                    max_rss_kib: u64::try_from(max_rss_kib).unwrap_or(0),
                };
                if matches!(exit, ExitStatus::Signaled(_)) && !self.killing {
                    self.died(pid);
                }
            }
            Record::Leftover(pid) => {
                if self.abort.is_none() {
                    self.judge.records.leftovers.push(pid as u32);
                }
            }
            Record::Died(pid) => self.died(pid),
            Record::ForkFailed(errno) => self.fail(TraceError::Sys {
                call: "fork",
                errno: Errno::from_raw(errno),
            }),
            Record::Done => self.done = true,
        }
    }

    fn died(&mut self, pid: i32) {
        if self.abort.is_some() {
            return;
        }
        let hook = self
            .judge
            .observer
            .as_mut()
            .map(|o| o.child_died_unexpectedly(pid as u32));
        if let Some(Err(e)) = hook {
            self.fail(TraceError::Observer(e));
        }
    }

    /// Records a fatal error and has the keeper kill the tree; the loop then drains it.
    fn fail(&mut self, err: TraceError) {
        if self.abort.is_none() {
            self.abort = Some(err);
        }
        if !self.killing {
            self.killing = true;
            sys::kill(self.keeper, sys::KILL_TREE);
        }
    }

    fn reap_keeper(&mut self) {
        let keeper = nix::unistd::Pid::from_raw(self.keeper);
        while let Err(Errno::EINTR) = nix::sys::wait::waitpid(keeper, None) {}
    }
}
