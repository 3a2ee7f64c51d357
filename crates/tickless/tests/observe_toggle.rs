//! `set_call_sites` flips a process-wide switch: alone in its own binary.

use std::time::Duration;

use tickless::clock::ManualClock;
use tickless::Driver;

#[test]
fn call_site_counting_can_be_switched_off() {
    let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
    assert!(tickless::observe::call_sites(), "on by default");
    tickless::observe::set_call_sites(false);
    let line = line!() + 2;
    let timers: Vec<_> = (0..3)
        .map(|_| driver.handle().timer(Duration::from_secs(9)))
        .collect();
    let s = driver.handle().snapshot();
    let site = s.sites.iter().find(|x| x.line == line).unwrap();
    assert_eq!(
        (site.live, site.created),
        (3, 0),
        "live comes from the scan; events are not counted"
    );
    assert_eq!(
        s.counters.created, 3,
        "driver-wide counters are always kept"
    );
    assert!(!s.call_sites_enabled);
    tickless::observe::set_call_sites(true);
    drop(timers);
    let s = driver.handle().snapshot();
    assert_eq!(
        s.sites.iter().find(|x| x.line == line).unwrap().cancelled,
        3
    );
}
