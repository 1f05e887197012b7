//! `pinion demo --exit` on a fresh directory: the whole product runs end to
//! end against the embedded simulator, and a second run creates nothing twice.

use std::process::Command;

fn demo(dir: &std::path::Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_pinion"))
        .args(["demo", "--exit", "--dir"])
        .arg(dir)
        .args([
            "--listen",
            &format!("127.0.0.1:{}", pinion_testkit::free_port()),
        ])
        .env_remove("PINION_DATA_DIR")
        .env_remove("PINION_DATABASE_URL")
        .env_remove("PINION_MASTER_KEY")
        .env_remove("PINION_MASTER_KEY_FILE")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn the_demo_authorizes_syncs_every_stream_and_publishes_once() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, text) = demo(dir.path());
    assert!(ok, "{text}");
    assert!(text.contains("status Active"), "{text}");
    for stream in [
        "user_account",
        "boards",
        "board_sections",
        "board_pins",
        "board_section_pins",
        "pins",
        "ad_accounts",
        "ad_account_analytics",
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{stream} ")))
            .unwrap_or_else(|| panic!("no summary line for {stream}: {text}"));
        assert!(line.contains("done"), "{line}");
    }
    assert!(text.contains("3 created"), "{text}");
    // The same, visible in the web UI: a source with a run, a destination
    // whose history lists the demo pins (already created by the publisher).
    assert!(
        text.contains("source \"Demo boards and pins\" (Succeeded"),
        "{text}"
    );
    assert!(
        text.contains("(3 of its 3 pins already published)"),
        "{text}"
    );
    assert!(
        text.contains("Client Secret"),
        "how to see the consent page: {text}"
    );
    assert!(text.contains("/sign-in as `demo`, password "), "{text}");
    assert!(dir.path().join("pinterest-data.db").is_file());
    assert!(dir.path().join("data").join("master.key").is_file());

    let (ok, again) = demo(dir.path());
    assert!(ok, "{again}");
    assert!(again.contains("0 created, 3 already published"), "{again}");
    assert!(
        again.contains("(3 of its 3 pins already published)"),
        "{again}"
    );
}
