//! Waits with a deadline, the one way every trellis crate waits for a cluster.
//!
//! A wait has three parts kept apart, as kube-runtime's `await_condition` keeps them:
//! the **condition** (a probe returning [`Poll::Ready`] or [`Poll::Pending`] with why
//! not yet), the **mechanism** (polling at a fixed interval here) and the **deadline**
//! (set once by the caller, with a stop flag such as Ctrl-C). A timeout names what it
//! waited for, how long it really waited, and the last reason it was not done.
//!
//! # Deadline
//! Every function here returns by `deadline` (plus one probe's or one interval's
//! time): there is no wait without one.

#![warn(missing_docs)]

use std::future::Future;
use std::time::{Duration, Instant};

/// One look at the condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll<T> {
    /// The condition holds; the wait returns this.
    Ready(T),
    /// Not yet, and why (the last reason is in the timeout error).
    Pending(String),
}

/// Why a wait ended without its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waited<E> {
    /// The probe failed in a way waiting longer cannot fix.
    Failed(E),
    /// The deadline passed.
    TimedOut {
        /// What was waited for.
        what: String,
        /// How long the wait really took.
        waited: Duration,
        /// The last reason the condition did not hold.
        last: String,
    },
    /// The stop flag was raised (Ctrl-C, SIGTERM).
    Stopped,
}

impl<E: std::fmt::Display> std::fmt::Display for Waited<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Waited::Failed(e) => write!(f, "{e}"),
            Waited::TimedOut { what, waited, last } if last.is_empty() => {
                write!(f, "{what}: not done after {:.1} s", waited.as_secs_f64())
            }
            Waited::TimedOut { what, waited, last } => {
                write!(
                    f,
                    "{what}: not done after {:.1} s ({last})",
                    waited.as_secs_f64()
                )
            }
            Waited::Stopped => write!(f, "interrupted"),
        }
    }
}

impl<E: std::fmt::Debug + std::fmt::Display> std::error::Error for Waited<E> {}

/// How often the stop flag is checked while a future runs under [`within`].
const STOP_CHECK: Duration = Duration::from_millis(100);

/// Calls `probe` every `every` until it is [`Poll::Ready`], fails, the `deadline`
/// passes or `stop` returns true. The probe is always called at least once.
pub async fn poll_until<T, E, F, Fut>(
    what: &str,
    deadline: Duration,
    every: Duration,
    stop: &(dyn Fn() -> bool + Sync),
    mut probe: F,
) -> Result<T, Waited<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, E>>,
{
    let start = Instant::now();
    loop {
        if stop() {
            return Err(Waited::Stopped);
        }
        let last = match probe().await.map_err(Waited::Failed)? {
            Poll::Ready(v) => return Ok(v),
            Poll::Pending(why) => why,
        };
        let waited = start.elapsed();
        if waited >= deadline {
            return Err(Waited::TimedOut {
                what: what.to_string(),
                waited,
                last,
            });
        }
        tokio::time::sleep(every.min(deadline - waited)).await;
    }
}

/// Runs `fut` until it finishes, the `deadline` passes or `stop` returns true.
pub async fn within<T>(
    what: &str,
    deadline: Duration,
    stop: &(dyn Fn() -> bool + Sync),
    fut: impl Future<Output = T>,
) -> Result<T, Waited<std::convert::Infallible>> {
    let start = Instant::now();
    let watch_stop = async {
        while !stop() {
            tokio::time::sleep(STOP_CHECK).await;
        }
    };
    tokio::select! {
        v = fut => Ok(v),
        _ = tokio::time::sleep(deadline) => Err(Waited::TimedOut {
            what: what.to_string(),
            waited: start.elapsed(),
            last: String::new(),
        }),
        _ = watch_stop => Err(Waited::Stopped),
    }
}

/// Never stop early: for waits no signal should cut short.
pub fn never() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    #[test]
    fn ready_on_the_third_look() {
        let calls = AtomicU32::new(0);
        let got: Result<u32, Waited<String>> = rt().block_on(poll_until(
            "three looks",
            Duration::from_secs(5),
            Duration::from_millis(1),
            &never,
            || async {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(if n == 3 {
                    Poll::Ready(n)
                } else {
                    Poll::Pending(format!("look {n}"))
                })
            },
        ));
        assert_eq!(got, Ok(3));
    }

    #[test]
    fn a_timeout_says_how_long_it_waited_and_why() {
        let got: Result<(), Waited<String>> = rt().block_on(poll_until(
            "the namespace to go",
            Duration::from_millis(30),
            Duration::from_millis(5),
            &never,
            || async { Ok(Poll::Pending("still Terminating".into())) },
        ));
        let Err(e @ Waited::TimedOut { .. }) = got else {
            panic!("expected a timeout, got {got:?}")
        };
        let Waited::TimedOut { waited, .. } = &e else {
            unreachable!()
        };
        assert!(*waited >= Duration::from_millis(30), "{waited:?}");
        let text = e.to_string();
        assert!(
            text.starts_with("the namespace to go: not done after 0.")
                && text.ends_with(" s (still Terminating)"),
            "{text}"
        );
    }

    #[test]
    fn a_failed_probe_ends_the_wait_at_once() {
        let got: Result<(), Waited<&str>> = rt().block_on(poll_until(
            "x",
            Duration::from_secs(60),
            Duration::from_secs(1),
            &never,
            || async { Err("forbidden") },
        ));
        assert_eq!(got, Err(Waited::Failed("forbidden")));
    }

    #[test]
    fn the_stop_flag_ends_waits() {
        let stop = AtomicBool::new(true);
        let stopped = || stop.load(Ordering::SeqCst);
        let got: Result<(), Waited<String>> = rt().block_on(poll_until(
            "x",
            Duration::from_secs(60),
            Duration::from_secs(1),
            &stopped,
            || async { Ok(Poll::Pending(String::new())) },
        ));
        assert_eq!(got, Err(Waited::Stopped));
        let got = rt().block_on(within(
            "x",
            Duration::from_secs(60),
            &stopped,
            std::future::pending::<()>(),
        ));
        assert_eq!(got, Err(Waited::Stopped));
    }

    #[test]
    fn within_reports_the_real_time_waited() {
        let got = rt().block_on(within(
            "following the log",
            Duration::from_millis(20),
            &never,
            std::future::pending::<()>(),
        ));
        let Err(Waited::TimedOut { waited, what, .. }) = &got else {
            panic!("{got:?}")
        };
        assert_eq!(what, "following the log");
        assert!(*waited >= Duration::from_millis(20));
        assert!(!got.unwrap_err().to_string().contains(" 0 s"));
    }
}
