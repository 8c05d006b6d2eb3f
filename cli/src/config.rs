//! Turns parsed arguments into a `hutch_backends::Config`.

use std::path::Path;

use hutch_backends::{Choice, Config, Engine, Mount, Network, Writable};

use crate::args::{BackendArg, EnvArg, MountArg, NetworkArg, RunArgs, TracerEngineArg};

/// The backend choice: `--backend` first, then `HUTCH_BACKEND`, then `auto`.
pub fn choice(args: &RunArgs) -> Result<Choice, hutch_backends::Error> {
    Ok(match args.backend {
        Some(BackendArg::Auto) => Choice::Auto,
        Some(BackendArg::Chroot) => "chroot".parse()?,
        Some(BackendArg::Userns) => "userns".parse()?,
        Some(BackendArg::Ptrace) => "ptrace".parse()?,
        None => Choice::from_env()?,
    })
}

/// Builds the sandbox configuration. Streams stay inherited: hutch's own stdio is the command's.
pub fn build(args: &RunArgs, mounts: &[MountArg], env: &[EnvArg]) -> Config {
    let (program, rest) = args.command.split_first().expect("clap requires a command");
    let mut config = Config::new(program);
    config.args(rest);
    if let Some(root) = &args.root {
        config.root(root);
    }
    if args.writable_all {
        config.writable(Writable::All);
    }
    let host_root = args.root.as_deref().is_none_or(|r| r == Path::new("/"));
    let cwd = std::env::current_dir().ok();
    for path in &args.writable {
        // With the host's root, `-w build` means ./build, as any command-line user expects;
        // with --root it is relative to that root, as in sandboxlib.
        match (&cwd, host_root && path.is_relative()) {
            (Some(cwd), true) => config.writable_path(cwd.join(path)),
            _ => config.writable_path(path),
        };
    }
    for mount in mounts {
        config.mount(match mount.clone() {
            MountArg::Bind(source, target) => Mount::Bind { source, target },
            MountArg::RoBind(source, target) => Mount::RoBind { source, target },
            MountArg::Tmpfs(target) => Mount::Tmpfs { target },
            MountArg::Proc(target) => Mount::Proc { target },
            MountArg::Dev(target) => Mount::Dev { target },
        });
    }
    if let Some(network) = args.network {
        config.network(match network {
            NetworkArg::Shared => Network::Shared,
            NetworkArg::Isolated => Network::Isolated,
        });
    }
    if let Some(name) = &args.hostname {
        config.hostname(name.clone());
    }
    if let Some(dir) = &args.chdir {
        config.current_dir(dir);
    } else if let (true, Some(cwd)) = (host_root, &cwd) {
        // Like a plain command, start where hutch was started (the root is the host's).
        config.current_dir(cwd);
    }
    if args.clearenv {
        config.env_clear();
    }
    for change in env {
        match change {
            EnvArg::Set(var, value) => config.env(var, value),
            EnvArg::Unset(var) => config.env_remove(var),
        };
    }
    config.tracer_engine(match args.tracer_engine {
        None | Some(TracerEngineArg::Auto) => Engine::Auto,
        Some(TracerEngineArg::Ptrace) => Engine::Ptrace,
        Some(TracerEngineArg::Notify) => Engine::Notify,
    });
    config
        .collect_only(args.collect_only)
        .fake_ownership(args.fake_ownership)
        .best_effort(args.best_effort)
        .forward_signals(true);
    config
}
