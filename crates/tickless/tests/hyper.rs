//! `tickless::hyper::TicklessTimer` (feature `hyper`): the `rt::Timer`
//! contract on a manual clock, then a real hyper server and client on
//! loopback whose header-read timeout runs on tickless. Real-time bounds are
//! generous (seconds); exact timing is checked on the manual clock only.

mod support;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::rt::{self, Timer};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::{manual_driver, poll_noop, poll_once, CountingWaker};
use tickless::clock::Clock;
use tickless::hyper::TicklessTimer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Far above any scheduling noise on a loaded 2-core machine.
const GENEROUS: Duration = Duration::from_secs(20);

/// The address of a `Box<dyn Sleep>`'s allocation.
fn addr(sleep: &Pin<Box<dyn rt::Sleep>>) -> *const () {
    &**sleep as *const dyn rt::Sleep as *const ()
}

#[test]
fn sleeps_run_on_the_drivers_clock() {
    let (clock, driver) = manual_driver();
    let timer = TicklessTimer::with_handle(driver.handle().clone());
    assert_eq!(timer.now(), clock.now(), "hyper reads the driver's clock");

    let mut sleep = timer.sleep(ms(100));
    assert!(poll_noop(&mut sleep).is_pending());
    assert_eq!(driver.handle().pending_timers(), 1);
    clock.advance(ms(99));
    assert!(poll_noop(&mut sleep).is_pending(), "early");
    clock.advance(ms(1));
    assert!(poll_noop(&mut sleep).is_ready());

    let mut until = timer.sleep_until(clock.now() + ms(50));
    assert!(poll_noop(&mut until).is_pending());
    clock.advance(ms(50));
    assert!(poll_noop(&mut until).is_ready());
    drop((sleep, until));
    assert_eq!(driver.handle().pending_timers(), 0);
}

#[test]
fn reset_moves_the_same_sleep_in_place() {
    let (clock, driver) = manual_driver();
    let timer = TicklessTimer::with_handle(driver.handle().clone());
    let (woken, waker) = CountingWaker::new();
    let start = clock.now();
    let mut sleep = timer.sleep_until(start + ms(100));
    assert!(poll_once(&mut sleep, &waker).is_pending());
    let before = addr(&sleep);

    timer.reset(&mut sleep, start + ms(300));
    assert_eq!(addr(&sleep), before, "reset re-boxed the sleep");
    assert!(sleep.is::<tickless::Sleep>());
    clock.advance(ms(100));
    // The old deadline may wake the task once (a reset to later is lazy)...
    assert!(
        poll_once(&mut sleep, &waker).is_pending(),
        "fired at the old deadline"
    );
    clock.advance(ms(199));
    assert!(poll_once(&mut sleep, &waker).is_pending(), "early");
    clock.advance(ms(1));
    assert!(woken.count() >= 1);
    assert!(poll_once(&mut sleep, &waker).is_ready());

    // A completed sleep reset into the future is pending again; earlier works too.
    timer.reset(&mut sleep, clock.now() + ms(500));
    assert!(poll_once(&mut sleep, &waker).is_pending());
    timer.reset(&mut sleep, clock.now() + ms(10));
    assert_eq!(addr(&sleep), before);
    clock.advance(ms(10));
    assert!(poll_once(&mut sleep, &waker).is_ready());
}

/// A sleep of some other timer: never completes.
struct Foreign;

impl Future for Foreign {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl rt::Sleep for Foreign {}

#[test]
fn reset_replaces_a_sleep_of_another_timer() {
    let (clock, driver) = manual_driver();
    let timer = TicklessTimer::with_handle(driver.handle().clone());
    let mut sleep: Pin<Box<dyn rt::Sleep>> = Box::pin(Foreign);
    timer.reset(&mut sleep, clock.now() + ms(5));
    assert!(sleep.is::<tickless::Sleep>());
    assert!(poll_noop(&mut sleep).is_pending());
    clock.advance(ms(5));
    assert!(poll_noop(&mut sleep).is_ready());
}

#[test]
fn edge_durations_do_not_panic() {
    let (clock, driver) = manual_driver();
    let timer = TicklessTimer::with_handle(driver.handle().clone());
    assert!(poll_noop(&mut timer.sleep(Duration::ZERO)).is_ready());
    let mut never = timer.sleep(Duration::MAX);
    assert!(poll_noop(&mut never).is_pending());
    let mut past = timer.sleep_until(clock.now() - ms(1));
    clock.advance(Duration::ZERO);
    assert!(poll_noop(&mut past).is_ready());
}

async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"hello"))))
}

/// A hyper server on loopback whose header-read timeout runs on `timer`.
async fn serve(timer: TicklessTimer, header_timeout: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(timer.clone())
                .header_read_timeout(header_timeout);
            let conn =
                http.serve_connection(TokioIo::new(stream), hyper::service::service_fn(hello));
            tokio::spawn(conn);
        }
    });
    addr
}

/// Reads until the server closes the connection (EOF or reset).
async fn until_closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    while let Ok(n @ 1..) = stream.read(&mut buf).await {
        let _ = n;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_client_and_server_on_the_tickless_timer() {
    let addr = serve(TicklessTimer::new(), Duration::from_secs(30)).await;
    // hyper-util's pooling client, its pool timer on tickless too.
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_timer(TicklessTimer::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build_http::<Empty<Bytes>>();
    for _ in 0..3 {
        let url = format!("http://{addr}/").parse().unwrap();
        let response = tokio::time::timeout(GENEROUS, client.get(url))
            .await
            .expect("no reply")
            .unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"hello");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed_by_the_header_timeout_never_before() {
    let timeout = ms(300);
    let addr = serve(TicklessTimer::new(), timeout).await;
    let mut silent = Vec::new();
    for _ in 0..4 {
        let start = Instant::now(); // before connect: the server's timer starts later
        silent.push((start, TcpStream::connect(addr).await.unwrap()));
    }
    // A partial request head counts as silence: the head never completes.
    let start = Instant::now();
    let mut partial = TcpStream::connect(addr).await.unwrap();
    partial.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    silent.push((start, partial));

    for (start, mut stream) in silent {
        tokio::time::timeout(GENEROUS, until_closed(&mut stream))
            .await
            .expect("a silent connection stayed open");
        let took = start.elapsed();
        assert!(took >= timeout, "closed after {took:?}, before the timeout");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_obeys_a_manual_clock_only() {
    let (clock, driver) = manual_driver();
    let timer = TicklessTimer::with_handle(driver.handle().clone());
    let addr = serve(timer, Duration::from_secs(10)).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let registered = async {
        while driver.handle().pending_timers() == 0 {
            tokio::time::sleep(ms(5)).await;
        }
    };
    tokio::time::timeout(GENEROUS, registered)
        .await
        .expect("hyper never armed its header-read timer");

    // Real time passes, the manual clock does not: the connection stays.
    let mut buf = [0u8; 16];
    assert!(
        tokio::time::timeout(ms(300), stream.read(&mut buf))
            .await
            .is_err(),
        "closed though the driver's clock never moved"
    );
    assert_eq!(driver.handle().pending_timers(), 1);
    clock.advance(Duration::from_secs(10));
    tokio::time::timeout(GENEROUS, until_closed(&mut stream))
        .await
        .expect("not closed after the driver's clock passed the timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_its_request() {
    // hyper arms the header-read timer again while it waits for the next
    // request on a kept-alive connection: it is an idle timeout too.
    let (clock, driver) = manual_driver();
    let timer = TicklessTimer::with_handle(driver.handle().clone());
    let addr = serve(timer, Duration::from_secs(10)).await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    let response = tokio::time::timeout(
        GENEROUS,
        sender.send_request(Request::new(Empty::<Bytes>::new())),
    )
    .await
    .expect("no reply")
    .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"hello");

    let rearmed = async {
        while driver.handle().pending_timers() == 0 {
            tokio::time::sleep(ms(5)).await;
        }
    };
    tokio::time::timeout(GENEROUS, rearmed)
        .await
        .expect("no header-read timer for the next request");
    assert!(!conn.is_finished(), "closed before the timeout");
    clock.advance(Duration::from_secs(10));
    tokio::time::timeout(GENEROUS, conn)
        .await
        .expect("the idle connection stayed open")
        .unwrap()
        .unwrap();
}
