//! loom models of a context's races: parent cancel vs child guard drop vs
//! the child's deadline firing, child creation vs parent cancel (also with
//! a lazy parent deadline that the child registers), and the first wait
//! (which registers the deadline) vs the guard's cancel.
//!
//! `RUSTFLAGS="--cfg tickless_loom" cargo test -p tickless --lib --release models`

use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use loom::thread;

use super::{Context, ContextError};
use crate::clock::{Clock, ManualClock};
use crate::Driver;

#[test]
fn cancel_vs_drop_vs_deadline() {
    loom::model(|| {
        let clock = ManualClock::new();
        let driver = Driver::builder().clock(clock.clone()).build().unwrap();
        let root = Context::background_on(driver.handle().clone());
        let (parent, parent_guard) = root.with_cancel();
        let (child, child_guard) = parent.with_deadline(clock.now() + Duration::from_secs(1));
        assert!(!child.is_done()); // registers the deadline timer
        let node = child.node.clone();

        let a = thread::spawn(move || drop(parent_guard));
        let b = thread::spawn(move || drop(child_guard));
        // The deadline timer firing, as the driver would wake it.
        Waker::from(Arc::clone(&node)).wake();
        a.join().unwrap();
        b.join().unwrap();

        assert!(child.is_done() && parent.is_done());
        assert!(matches!(
            child.err(),
            Some(ContextError::Cancelled | ContextError::DeadlineExceeded)
        ));
        assert_eq!(parent.children(), 0);
        assert_eq!(
            driver.handle().pending_timers(),
            0,
            "the deadline timer is never left behind"
        );
    });
}

#[test]
fn child_creation_vs_parent_cancel() {
    loom::model(|| {
        let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
        let root = Context::background_on(driver.handle().clone());
        let (parent, parent_guard) = root.with_cancel();
        let deriving = {
            let parent = parent.clone();
            thread::spawn(move || parent.with_timeout(Duration::from_secs(5)))
        };
        drop(parent_guard);
        let (child, child_guard) = deriving.join().unwrap();
        assert!(
            child.is_done(),
            "a child derived around its parent's cancel still ends"
        );
        assert_eq!(parent.children(), 0);
        drop(child_guard);
        assert_eq!(driver.handle().pending_timers(), 0);
    });
}

#[test]
fn first_wait_vs_cancel() {
    loom::model(|| {
        let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
        let root = Context::background_on(driver.handle().clone());
        let (parent, _parent_guard) = root.with_cancel();
        let (ctx, guard) = parent.with_timeout(Duration::from_secs(5));
        let waiter = {
            let ctx = ctx.clone();
            thread::spawn(move || ctx.done())
        };
        drop(guard);
        let done = waiter.join().unwrap();
        assert_eq!(
            done.try_recv(),
            Err(crossbeam_channel::TryRecvError::Disconnected)
        );
        assert_eq!(ctx.err(), Some(ContextError::Cancelled));
        assert_eq!(parent.children(), 0);
        assert_eq!(
            driver.handle().pending_timers(),
            0,
            "a deadline registered around the cancel is never left behind"
        );
    });
}

#[test]
fn child_registering_a_lazy_parent_vs_parent_cancel() {
    loom::model(|| {
        let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
        let root = Context::background_on(driver.handle().clone());
        let (parent, parent_guard) = root.with_timeout(Duration::from_secs(5));
        let deriving = {
            let parent = parent.clone();
            // Later than the parent's: the child relies on the parent's
            // timer, which deriving it registers.
            thread::spawn(move || parent.with_timeout(Duration::from_secs(60)))
        };
        drop(parent_guard);
        let (child, child_guard) = deriving.join().unwrap();
        assert!(child.is_done() && parent.is_done());
        assert_eq!(child.err(), Some(ContextError::Cancelled));
        assert_eq!(parent.children(), 0);
        drop(child_guard);
        assert_eq!(
            driver.handle().pending_timers(),
            0,
            "the parent's timer, registered by the child, is never left behind"
        );
    });
}
