//! Two pieces of work at once, one on a second thread, for the stages of `generate` that
//! split cleanly (parsing, re-parsing rendered rules, rendering the docs).

/// The stack a second thread gets: a main thread's, so work moved off the main thread can
/// recurse as deep as it could on it.
pub const STACK: usize = 8 * 1024 * 1024;

/// Runs `there` on a second thread while `here` runs on this one, and returns both results.
/// A panic on the second thread resumes here; if no thread can be spawned, `there` runs
/// here after `here`.
pub fn beside<A, B: Send>(here: impl FnOnce() -> A, there: impl FnOnce() -> B + Send) -> (A, B) {
    // Borrowed by the second thread, so that `there` is still at hand if none starts.
    let slot = std::sync::Mutex::new(Some(there));
    let take = || slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .stack_size(STACK)
            .spawn_scoped(scope, || take().map(|there| there()));
        let a = here();
        let b = match spawned {
            Ok(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => take().map(|there| there()),
        };
        (a, b.expect("the second piece of work ran once"))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_results_come_back_and_the_second_runs_on_another_thread() {
        let here = std::thread::current().id();
        let (a, b) = super::beside(|| 1 + 1, move || std::thread::current().id() != here);
        assert_eq!((a, b), (2, true));
    }
}
