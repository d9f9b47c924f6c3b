//! Counting per key in the current minute: the one mechanism behind the
//! webhook refusals per address (SECURITY H4) and the records API's
//! requests per token.

use std::{collections::HashMap, hash::Hash, sync::Mutex};

/// Counts per key in the current minute, forgotten when the minute turns.
/// In this process only: each replica counts its own.
#[derive(Debug)]
pub struct MinuteCounter<K> {
    minute: Mutex<(i64, HashMap<K, u32>)>,
}

impl<K> Default for MinuteCounter<K> {
    fn default() -> Self {
        Self { minute: Mutex::new((0, HashMap::new())) }
    }
}

/// A bounded map: a spray of keys resets it rather than growing it
/// without end.
const MAX_KEYS: usize = 100_000;

impl<K: Hash + Eq> MinuteCounter<K> {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<K, u32>) -> T) -> T {
        let minute = crate::util::now() / 60;
        let mut guard = self.minute.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.0 != minute {
            *guard = (minute, HashMap::new());
        }
        if guard.1.len() >= MAX_KEYS {
            guard.1.clear();
        }
        f(&mut guard.1)
    }

    /// Whether `key` has reached `limit` this minute.
    pub fn reached(&self, key: &K, limit: u32) -> bool {
        self.with(|counts| counts.get(key).is_some_and(|n| *n >= limit))
    }

    /// Counts one for `key`.
    pub fn count(&self, key: K) {
        self.with(|counts| *counts.entry(key).or_default() += 1);
    }

    /// Counts one for `key` if it is under `limit`; otherwise the seconds
    /// until the minute turns.
    pub fn take(&self, key: K, limit: u32) -> Result<(), u64> {
        self.with(|counts| {
            let n = counts.entry(key).or_default();
            if *n >= limit {
                Err(u64::try_from(60 - crate::util::now().rem_euclid(60)).unwrap_or(60))
            } else {
                *n += 1;
                Ok(())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_refuses_past_the_limit_with_the_seconds_left_in_the_minute() {
        let counter = MinuteCounter::default();
        assert_eq!(counter.take("a", 2), Ok(()));
        assert_eq!(counter.take("a", 2), Ok(()));
        let wait = counter.take("a", 2).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert_eq!(counter.take("b", 2), Ok(()), "keys are counted apart");
        assert!(counter.reached(&"a", 2));
    }
}
