//! The JSON report and the one-line messages on stderr.
//!
//! Paths are JSON strings when they are valid UTF-8. A path that is not is written as an object
//! `{"hex": "<its bytes in lowercase hex>"}`, so every byte survives and a consumer can tell the
//! two apart by type.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use hutch_backends::Outcome;
use serde_json::{json, Value};

/// A path as JSON, without loss (see the module docs).
pub fn path_value(path: &Path) -> Value {
    os_value(path.as_os_str())
}

fn os_value(s: &OsStr) -> Value {
    match s.to_str() {
        Some(text) => Value::String(text.to_string()),
        None => {
            let hex: String = s.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
            json!({ "hex": hex })
        }
    }
}

/// The report of one run.
pub fn outcome_json(outcome: &Outcome, supervisor_max_rss_kib: u64) -> Value {
    json!({
        "backend": outcome.backend.name(),
        "engine": outcome.engine.map(hutch_backends::engine_name),
        "enforcement": outcome.enforcement.to_string(),
        "exit_code": outcome.status.code(),
        "signal": outcome.status.signal(),
        "violations": outcome.violations.iter().map(|v| json!({
            "pid": v.pid,
            "syscall": v.syscall,
            "path": path_value(&v.path),
            "resolved": path_value(&v.resolved),
        })).collect::<Vec<_>>(),
        "network_denials": outcome.network_denials.iter().map(|n| json!({
            "pid": n.pid,
            "syscall": n.syscall,
            "destination": n.destination,
        })).collect::<Vec<_>>(),
        "ownerships": outcome.ownerships.iter().map(|o| json!({
            "path": path_value(&o.path),
            "uid": o.uid,
            "gid": o.gid,
        })).collect::<Vec<_>>(),
        "modes": outcome.modes.iter().map(|m| json!({
            "path": path_value(&m.path),
            "mode": format!("{:04o}", m.mode),
        })).collect::<Vec<_>>(),
        "degraded": outcome.degradations.iter().map(|d| json!({
            "setting": d.setting.to_string(),
            "asked": d.asked,
            "got": d.got,
            "why": d.why,
        })).collect::<Vec<_>>(),
        "capabilities_kept": outcome.capabilities_kept,
        "no_new_privs": outcome.no_new_privs,
        "notes": outcome.notes,
        "usage": {
            "wall_s": outcome.usage.wall.as_secs_f64(),
            "user_cpu_s": outcome.usage.user_cpu.as_secs_f64(),
            "system_cpu_s": outcome.usage.system_cpu.as_secs_f64(),
            "max_rss_kib": outcome.usage.max_rss_kib,
        },
        "supervisor_max_rss_kib": supervisor_max_rss_kib,
    })
}

/// One line a write that was denied (or, in collect-only mode, recorded and allowed).
pub fn violation_lines(outcome: &Outcome, collect_only: bool) -> Vec<String> {
    let verb = if collect_only { "recorded" } else { "denied" };
    let writes = outcome.violations.iter().map(|v| {
        format!(
            "hutch: {verb} {} {}",
            v.syscall,
            v.resolved.as_os_str().to_string_lossy()
        )
    });
    let network = outcome
        .network_denials
        .iter()
        .map(|n| format!("hutch: {verb} {} {}", n.syscall, n.destination));
    writes.chain(network).collect()
}
