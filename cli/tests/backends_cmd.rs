//! `hutch backends`: what runs here and why not.
mod common;
use common::*;

#[test]
fn lists_every_backend_with_availability_and_support() {
    let r = output(hutch().args(["backends", "--json"]));
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let names: Vec<&str> = v["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["userns", "ptrace", "chroot"]);
    for b in v["backends"].as_array().unwrap() {
        let available = b["available"].as_bool().unwrap();
        assert_eq!(available, b["why_not"].is_null(), "{b}");
        assert!(b["supports"]["writable"].is_boolean());
        // Only the backend that traces has a tracer engine; auto resolves to a real one.
        match b["name"].as_str().unwrap() {
            "ptrace" => assert!(
                ["ptrace", "notify"].contains(&b["tracer_engine_auto"].as_str().unwrap()),
                "{b}"
            ),
            _ => assert!(b["tracer_engine_auto"].is_null(), "{b}"),
        }
    }
    let chroot = &v["backends"][2];
    assert_eq!(
        chroot["available"].as_bool().unwrap(),
        is_root(),
        "chroot needs root"
    );
    let text = output(hutch().arg("backends"));
    assert_eq!(text.code, 0);
    for name in names {
        assert!(text.stdout.contains(name), "{}", text.stdout);
    }
    assert!(text.stdout.contains("auto    picks"), "{}", text.stdout);
    let engine_line = format!(
        "tracer engine: auto picks {} on this kernel",
        auto_tracer_engine()
    );
    assert!(text.stdout.contains(&engine_line), "{}", text.stdout);
}

#[test]
fn as_nobody_chroot_is_unavailable_with_a_reason() {
    let dir = shared_tempdir();
    let Some(r) = as_nobody(dir.path(), &["backends", "--json"]) else {
        return;
    };
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let chroot = &v["backends"][2];
    assert_eq!(chroot["available"], false);
    assert!(!chroot["why_not"].as_str().unwrap().is_empty());
}
