//! The planner pool: field imports and plans run here, off the request workers, a few at a
//! time, each within a deadline.

/// Runs heavy field work (imports, plans) on blocking threads, at most `n_slots` at once,
/// each within a deadline, so the request workers (and `/healthz`) keep answering however
/// many large fields are sent at the same time.
///
/// A job past its deadline is abandoned: the person gets an answer at once, but the thread
/// cannot be stopped and keeps its slot until it ends, so abandoned jobs still count
/// against the limit. The planner's field limits keep every job's length bounded.
#[derive(Debug, Clone)]
pub struct PlannerPool {
    slots: std::sync::Arc<tokio::sync::Semaphore>,
    n_slots: usize,
    deadline: std::time::Duration,
}

/// Why a job of the [`PlannerPool`] gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolError {
    /// No slot came free before the deadline.
    Busy,
    /// The job ran past the deadline and was abandoned.
    Deadline,
    /// The job panicked (a bug; the detail is logged).
    Failed(String),
}

impl PlannerPool {
    /// A pool running at most `n_slots` jobs (at least 1), each given `deadline`.
    pub fn new(n_slots: usize, deadline: std::time::Duration) -> PlannerPool {
        let n_slots = n_slots.max(1);
        PlannerPool {
            slots: std::sync::Arc::new(tokio::sync::Semaphore::new(n_slots)),
            n_slots,
            deadline,
        }
    }

    /// How many jobs may run at once.
    pub fn n_slots(&self) -> usize {
        self.n_slots
    }

    /// How many slots are free now.
    pub fn n_free(&self) -> usize {
        self.slots.available_permits()
    }

    /// The deadline of one job, waiting for a slot included.
    pub fn deadline(&self) -> std::time::Duration {
        self.deadline
    }

    /// Runs `job` on a blocking thread once a slot is free.
    ///
    /// # Errors
    /// [`PoolError::Busy`] when no slot is free before the deadline, [`PoolError::Deadline`]
    /// when the job does not end before it, [`PoolError::Failed`] when it panicked.
    pub async fn run<T, F>(&self, job: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let end = tokio::time::Instant::now() + self.deadline;
        let permit = tokio::time::timeout_at(end, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| PoolError::Busy)?
            .map_err(|e| PoolError::Failed(e.to_string()))?;
        // The permit moves into the thread: the slot is free only when the work really ends.
        let handle = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        });
        match tokio::time::timeout_at(end, handle).await {
            Err(_) => {
                tracing::warn!(
                    message = "Planner job abandoned at its deadline.",
                    deadline_s = self.deadline.as_secs_f64()
                );
                Err(PoolError::Deadline)
            }
            Ok(Err(e)) => Err(PoolError::Failed(e.to_string())),
            Ok(Ok(v)) => Ok(v),
        }
    }
}

impl Default for PlannerPool {
    fn default() -> Self {
        PlannerPool::new(2, std::time::Duration::from_secs(30))
    }
}

#[cfg(test)]
mod tests {
    use super::{PlannerPool, PoolError};

    #[tokio::test]
    async fn the_pool_limits_jobs_and_keeps_its_deadline() {
        use std::time::Duration;
        let pool = PlannerPool::new(1, Duration::from_millis(300));
        assert_eq!(pool.run(|| 7).await, Ok(7));
        // The slow job ends when the test lets it, not after a time a loaded machine may
        // overrun before the test looks.
        let (release, released) = std::sync::mpsc::channel::<()>();
        let slow = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(move || {
                    let _ = released.recv();
                })
                .await
            })
        };
        while pool.n_free() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // The one slot is taken: the next job waits its whole deadline, then is refused.
        assert_eq!(pool.run(|| 1).await, Err(PoolError::Busy));
        // The slow job is abandoned at its deadline but keeps the slot until it really ends.
        assert_eq!(slow.await.unwrap(), Err(PoolError::Deadline));
        assert_eq!(pool.n_free(), 0);
        release.send(()).unwrap();
        while pool.n_free() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(pool.run(|| 2).await, Ok(2));
        // A panic's backtrace may take longer to print on a loaded machine than the short
        // deadline above: this part is about the slot, not the deadline.
        let pool = PlannerPool::new(1, Duration::from_secs(60));
        let panicked = pool.run(|| -> u8 { panic!("planner bug") }).await;
        assert!(
            matches!(panicked, Err(PoolError::Failed(_))),
            "{panicked:?}"
        );
        assert_eq!(pool.n_free(), 1, "a panic frees its slot");
    }
}
