//! The wheel's invariant checker: switch it on in tests and when debugging,
//! as Go's `runtime/time.go` does with its `verify`.

use super::level::{level_range, slot_for, LEVELS, SLOTS, SPAN};
use super::{Wheel, DUE, LISTS, NIL, SHELVED};

impl<T> Wheel<T> {
    /// Checks every structural invariant; panics with the offending values.
    /// O(pending timers). For tests and debugging.
    #[doc(hidden)]
    pub fn verify(&self) {
        let mut seen = 0;
        for list in 0..LISTS {
            let mut prev = NIL;
            let mut index = self.heads[list];
            if list != DUE {
                let bit = self.occupied[list / SLOTS] >> (list % SLOTS) & 1;
                assert_eq!(
                    bit == 1,
                    index != NIL,
                    "occupancy bit of list {list} disagrees with its head"
                );
            }
            while index != NIL {
                let e = self.slab.at(index);
                assert_eq!(
                    usize::from(e.list.get()) - 1,
                    list,
                    "entry {index} is on list {list} but says otherwise"
                );
                assert_eq!(e.prev, prev, "entry {index} has a broken back link");
                if list == DUE {
                    assert!(
                        e.when <= self.elapsed,
                        "due entry {index} when {} > elapsed {}",
                        e.when,
                        self.elapsed
                    );
                } else {
                    let (level, slot) = (list / SLOTS, list % SLOTS);
                    assert!(
                        e.when > self.elapsed,
                        "entry {index} when {} filed but not after elapsed {}",
                        e.when,
                        self.elapsed
                    );
                    let filed = e.when.min(self.elapsed.saturating_add(SPAN - 1));
                    if level < LEVELS - 1 {
                        assert_eq!(
                            slot_for(e.when, level),
                            slot,
                            "entry {index} when {} in wrong slot at level {level}",
                            e.when
                        );
                        assert!(
                            slot > slot_for(self.elapsed, level),
                            "entry {index} level {level} slot {slot} not ahead of elapsed {}",
                            self.elapsed
                        );
                        assert_eq!(filed / level_range(level), self.elapsed / level_range(level), "entry {index} when {} not in the current rotation of level {level}, elapsed {}", e.when, self.elapsed);
                    }
                }
                seen += 1;
                prev = index;
                index = e.next;
            }
        }
        for (key, e) in self.slab.iter() {
            if usize::from(e.list.get()) - 1 == SHELVED {
                assert_eq!(
                    e.when,
                    u64::MAX,
                    "shelved entry {} is due at {}",
                    key.index,
                    e.when
                );
                seen += 1;
            }
        }
        assert_eq!(
            seen,
            self.slab.len(),
            "lists and the shelf hold {seen} entries, slab {}",
            self.slab.len()
        );
    }
}
