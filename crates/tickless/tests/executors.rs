//! One behaviour suite, run unchanged under tokio (current-thread and
//! multi-thread), async-executor (smol's executor) and `futures::executor`,
//! on the global driver and the real clock. Bounds are generous: these
//! machines are shared and noisy; precision is measured by benchmarks.

use std::future::Future;
use std::pin::pin;
use std::time::{Duration, Instant};

use futures::StreamExt;

const GENEROUS: Duration = Duration::from_secs(5);

async fn suite() {
    // sleep: never early.
    let start = Instant::now();
    tickless::sleep(Duration::from_millis(20)).await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(20),
        "woke early after {took:?}"
    );
    assert!(took < GENEROUS, "{took:?}");

    // sleep_until in the past completes.
    tickless::sleep_until(Instant::now() - Duration::from_millis(5)).await;

    // timeout: Ok when the future wins, Err when the deadline does.
    assert_eq!(
        tickless::timeout(Duration::from_secs(10), async { 1 }).await,
        Ok(1)
    );
    let start = Instant::now();
    let r = tickless::timeout(Duration::from_millis(15), std::future::pending::<()>()).await;
    assert!(r.is_err());
    assert!(start.elapsed() >= Duration::from_millis(15));

    // A race between two sleeps: the earlier wins, the loser is dropped and freed.
    let short = tickless::sleep(Duration::from_millis(5));
    let long = tickless::sleep(Duration::from_secs(3600));
    match futures::future::select(pin!(short), pin!(long)).await {
        futures::future::Either::Left(_) => {}
        futures::future::Either::Right(_) => panic!("the hour-long sleep won"),
    }

    // interval: three ticks span at least two periods; the stream yields them too.
    let start = Instant::now();
    let mut interval = tickless::interval(Duration::from_millis(10));
    let first = interval.tick().await;
    interval.tick().await;
    let third = interval.next().await.unwrap();
    assert_eq!(third - first, Duration::from_millis(20));
    assert!(start.elapsed() >= Duration::from_millis(20));

    // Many concurrent sleeps all complete, none early.
    let start = Instant::now();
    let sleeps = (1..=50u64).map(|i| async move {
        let d = Duration::from_millis(i % 10 + 1);
        let t = Instant::now();
        tickless::sleep(d).await;
        assert!(t.elapsed() >= d);
    });
    futures::future::join_all(sleeps).await;
    assert!(start.elapsed() < GENEROUS);
}

fn run_tokio_current_thread<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn under_tokio_current_thread() {
    // No `enable_time()`: tickless needs nothing from the runtime.
    run_tokio_current_thread(suite());
}

#[test]
fn under_tokio_multi_thread() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        // Spawned tasks migrate between workers: timers dropped or fired on
        // another thread than the one that registered them.
        let tasks: Vec<_> = (0..8).map(|_| tokio::spawn(suite())).collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn under_async_executor() {
    let ex = async_executor::Executor::new();
    futures_lite::future::block_on(ex.run(async {
        let tasks: Vec<_> = (0..4).map(|_| ex.spawn(suite())).collect();
        for t in tasks {
            t.await;
        }
    }));
}

#[test]
fn under_futures_executor() {
    futures::executor::block_on(suite());
    let pool = futures::executor::ThreadPool::builder()
        .pool_size(2)
        .create()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..4 {
        let tx = tx.clone();
        pool.spawn_ok(async move {
            suite().await;
            tx.send(()).unwrap();
        });
    }
    for _ in 0..4 {
        rx.recv_timeout(Duration::from_secs(30))
            .expect("a pooled suite hung");
    }
}
