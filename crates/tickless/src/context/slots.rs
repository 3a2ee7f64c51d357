//! A tiny index slab: O(1) insert and remove by index, slots reused. Holds a
//! context's children and its waiting futures, so a finished child or a
//! dropped future leaves in O(1) and memory follows what is live.

pub(crate) struct Slots<T> {
    items: Vec<Option<T>>,
    free: Vec<usize>,
    len: usize,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots {
            items: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slots<T> {
    pub(crate) fn insert(&mut self, item: T) -> usize {
        self.len += 1;
        match self.free.pop() {
            Some(i) => {
                self.items[i] = Some(item);
                i
            }
            None => {
                self.items.push(Some(item));
                self.items.len() - 1
            }
        }
    }

    pub(crate) fn remove(&mut self, index: usize) -> Option<T> {
        let item = self.items.get_mut(index)?.take()?;
        self.len -= 1;
        self.free.push(index);
        if self.len == 0 && self.items.capacity() > 64 {
            // Nothing live after a burst: give the memory back, so a peak is
            // not pinned forever. (Small slabs stay: no allocation per use.)
            self.items = Vec::new();
            self.free = Vec::new();
        }
        Some(item)
    }

    pub(crate) fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.items.get_mut(index)?.as_mut()
    }

    /// Takes every item out.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = T> {
        self.len = 0;
        self.free = Vec::new();
        std::mem::take(&mut self.items).into_iter().flatten()
    }

    /// The items, in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter().flatten()
    }
}

#[cfg(all(test, not(tickless_loom)))]
mod tests {
    use super::*;

    #[test]
    fn insert_remove_reuse_and_release() {
        let mut s = Slots::default();
        let a = s.insert('a');
        let b = s.insert('b');
        assert_eq!(s.remove(a), Some('a'));
        assert_eq!(s.remove(a), None, "a removed slot stays empty");
        let c = s.insert('c');
        assert_eq!(c, a, "slot reused");
        assert_eq!(s.iter().count(), 2);
        assert_eq!(s.get_mut(b), Some(&mut 'b'));
        s.remove(b);
        s.remove(c);
        assert!(s.items.capacity() > 0, "a small slab keeps its memory");
        let many: Vec<usize> = (0..1000)
            .map(|i| s.insert(char::from(b'a' + (i % 26) as u8)))
            .collect();
        for i in many {
            s.remove(i);
        }
        assert_eq!(
            s.items.capacity(),
            0,
            "memory returned when a burst has drained"
        );
        s.insert('d');
        let all: Vec<char> = s.drain().collect();
        assert_eq!(all, vec!['d']);
        assert_eq!(s.iter().count(), 0);
    }
}
