//! Helpers shared by the tests that run the `tickless` binary.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs `tickless args…` to completion, colour off.
pub fn tickless(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tickless"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run tickless")
}

/// Output bytes as text (lossy).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
