//! `tickless serve` (the example server) and `tickless bench server`, through
//! the real binary on loopback. Real-time bounds are generous (seconds).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const GENEROUS: Duration = Duration::from_secs(20);

/// A running `tickless serve`; killed on drop.
struct Serve(Child, SocketAddr);

impl Serve {
    fn start(timers: &str, extra: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tickless"))
            .args(["serve", "--addr", "127.0.0.1:0", "--timers", timers])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("run tickless serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .strip_prefix("listening on ")
            .and_then(|r| r.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Serve(child, addr)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends `request` and reads until the server closes or `GENEROUS` passes.
fn exchange(addr: SocketAddr, request: &str) -> (String, Duration) {
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(GENEROUS)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    (
        String::from_utf8_lossy(&reply).into_owned(),
        start.elapsed(),
    )
}

#[test]
fn both_variants_serve_time_out_requests_and_close_idle_connections() {
    for timers in ["tokio", "tickless"] {
        let idle = Duration::from_millis(300);
        let server = Serve::start(
            timers,
            &["--idle-timeout", "0.3", "--request-timeout", "0.2"],
        );
        let (reply, _) = exchange(
            server.1,
            "GET /hi HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        assert!(reply.starts_with("HTTP/1.1 200"), "{timers}: {reply}");
        assert!(
            reply.contains("GET /hi (request 1 on this connection)"),
            "{reply}"
        );

        let (reply, took) = exchange(server.1, "GET /stall HTTP/1.1\r\nHost: t\r\n\r\n");
        assert!(reply.starts_with("HTTP/1.1 503"), "{timers}: {reply}");
        assert!(
            took >= Duration::from_millis(200),
            "{timers}: 503 after {took:?}"
        );

        // Silent: closed by the idle timeout, never before it.
        let (reply, took) = exchange(server.1, "");
        assert_eq!(reply, "", "{timers}");
        assert!(took >= idle, "{timers}: closed after {took:?}");
        assert!(took < GENEROUS, "{timers}: never closed");
    }
}

#[test]
fn bad_durations_are_usage_errors() {
    for bad in ["0", "-1", "nan", "1e30", "soon"] {
        let o = Command::new(env!("CARGO_BIN_EXE_tickless"))
            .args(["serve", "--idle-timeout", bad])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "--idle-timeout {bad}");
    }
}

#[test]
fn bench_server_prints_one_table_or_the_wrk_hint() {
    let json = std::env::temp_dir().join(format!("tickless-server-{}.json", std::process::id()));
    let o = Command::new(env!("CARGO_BIN_EXE_tickless"))
        .args(["bench", "server", "--quick", "--idle", "200", "--slow", "8"])
        .args(["--slow-timeout", "0.3", "--json", json.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let out = String::from_utf8_lossy(&o.stdout);
    if err.contains("apt-get install wrk") {
        eprintln!("wrk is not installed: only the hint was checked");
        assert!(out.is_empty(), "the hint is a note, on stderr: {out}");
        return;
    }
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows.len(), 10, "a header and 9 rows:\n{out}");
    assert!(
        rows[0].ends_with("| tickless | tokio |"),
        "a column per variant: {}",
        rows[0]
    );
    let cells = |row: &str| -> Vec<String> {
        row.trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    for row in &rows[1..] {
        assert_eq!(cells(row).len(), 5, "{row}");
        assert!(!row.contains("n/a"), "a part failed:\n{out}");
    }
    let early = rows.iter().find(|r| r.contains("closed before")).unwrap();
    assert_eq!(cells(early)[3..], ["0.0", "0.0"], "{early}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).expect("valid JSON");
    let _ = std::fs::remove_file(&json);
    assert_eq!(doc.as_array().map(Vec::len), Some(9), "{doc}");
    assert!(doc[0]["results"]["tickless"].as_f64() > Some(0.0), "{doc}");
}
