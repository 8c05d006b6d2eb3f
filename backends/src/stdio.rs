//! The command's standard streams as file descriptors, with reader threads for captures so that
//! a large output never blocks the command.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::thread::JoinHandle;

use nix::fcntl::OFlag;
use nix::unistd::pipe2;

use crate::config::Stdio;

type Reader = JoinHandle<io::Result<Vec<u8>>>;

/// Captured (stdout, stderr); each `None` when not captured.
pub(crate) type Captured = (Option<Vec<u8>>, Option<Vec<u8>>);

/// The three descriptors to give the command, and the readers of what it writes to pipes.
pub(crate) struct Plumbing {
    /// For fd 0.
    pub stdin: OwnedFd,
    /// For fd 1.
    pub stdout: OwnedFd,
    /// For fd 2.
    pub stderr: OwnedFd,
    /// Readers of captured streams; call [`Readers::finish`] once the descriptors above (and
    /// every copy of them) are closed.
    pub readers: Readers,
}

/// Threads reading captured streams.
pub(crate) struct Readers {
    stdout: Option<Reader>,
    stderr: Option<Reader>,
}

impl Readers {
    /// Waits for both readers: (stdout, stderr), each `None` when not captured.
    pub fn finish(self) -> io::Result<Captured> {
        let join = |r: Option<Reader>| -> io::Result<Option<Vec<u8>>> {
            match r {
                None => Ok(None),
                Some(handle) => match handle.join() {
                    Ok(result) => result.map(Some),
                    Err(_) => Err(io::Error::other("capture reader thread panicked")),
                },
            }
        };
        let out = join(self.stdout);
        let err = join(self.stderr);
        Ok((out?, err?))
    }
}

fn devnull() -> io::Result<OwnedFd> {
    Ok(File::options()
        .read(true)
        .write(true)
        .open("/dev/null")?
        .into())
}

/// A pipe whose read end is drained by a thread; returns the write end and the thread.
fn capture() -> io::Result<(OwnedFd, Reader)> {
    let (rd, wr) = pipe2(OFlag::O_CLOEXEC).map_err(io::Error::from)?;
    let handle = std::thread::Builder::new()
        .name("hutch-capture".into())
        .spawn(move || {
            let mut buf = Vec::new();
            File::from(rd).read_to_end(&mut buf)?;
            Ok(buf)
        })?;
    Ok((wr, handle))
}

fn target(stdio: &Stdio, inherited: impl AsFd) -> io::Result<(OwnedFd, Option<Reader>)> {
    match stdio {
        Stdio::Inherit => Ok((inherited.as_fd().try_clone_to_owned()?, None)),
        Stdio::Discard => Ok((devnull()?, None)),
        Stdio::File(file) => Ok((file.try_clone()?.into(), None)),
        Stdio::Capture => {
            let (fd, reader) = capture()?;
            Ok((fd, Some(reader)))
        }
        // Validation rejects these for stdin and stdout; stderr is handled by the caller.
        Stdio::StderrToStdout => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "stderr-to-stdout is only valid for stderr",
        )),
    }
}

/// Builds the descriptors for `stdin`, `stdout`, `stderr` (all close-on-exec in this process).
pub(crate) fn plumb(stdin: &Stdio, stdout: &Stdio, stderr: &Stdio) -> io::Result<Plumbing> {
    let (stdin, _) = target(stdin, io::stdin())?;
    let (stdout, out_reader) = target(stdout, io::stdout())?;
    let (stderr, err_reader) = match stderr {
        Stdio::StderrToStdout => (stdout.try_clone()?, None),
        other => target(other, io::stderr())?,
    };
    Ok(Plumbing {
        stdin,
        stdout,
        stderr,
        readers: Readers {
            stdout: out_reader,
            stderr: err_reader,
        },
    })
}
