//! Every future steward runs besides its request handlers, under one
//! [`TaskTracker`], in groups (one per subsystem or stage of shutdown)
//! that each stop with their own [`CancellationToken`]: the composition
//! stops the groups one after the other, waiting for each, and at last
//! checks that nothing it spawned is still running.

use std::future::Future;

use tokio::task::JoinHandle;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// The tracker of everything the composition spawns.
pub(crate) struct Tasks {
    tracker: TaskTracker,
}

impl Tasks {
    pub(crate) fn new() -> Self {
        Tasks {
            tracker: TaskTracker::new(),
        }
    }

    /// A new group, with a token of its own.
    pub(crate) fn group(&self, name: &'static str) -> Group {
        Group {
            name,
            token: CancellationToken::new(),
            tracker: self.tracker.clone(),
            handles: Vec::new(),
        }
    }

    /// Spawns a future whose output the composition uses (the API
    /// server's): awaited through its handle rather than by a group.
    pub(crate) fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn(future)
    }

    /// Waits until every future spawned has ended (once every group was
    /// stopped, none should be left: a straggler is named in the log).
    pub(crate) async fn wait(self) {
        self.tracker.close();
        if !self.tracker.is_empty() {
            tracing::warn!(
                tasks = self.tracker.len(),
                "waiting for tasks still running at shutdown"
            );
        }
        self.tracker.wait().await;
    }
}

/// The futures of one subsystem, stopped together.
pub(crate) struct Group {
    name: &'static str,
    token: CancellationToken,
    tracker: TaskTracker,
    handles: Vec<JoinHandle<()>>,
}

impl Group {
    /// The token this group's futures stop on.
    pub(crate) fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Runs `future` (which ends once [`Self::token`] is cancelled) in
    /// this group.
    pub(crate) fn spawn(&mut self, future: impl Future<Output = ()> + Send + 'static) {
        self.handles.push(self.tracker.spawn(future));
    }

    /// Cancels the group's token and waits until each of its futures has
    /// ended. A future that panicked is logged; the shutdown goes on.
    pub(crate) async fn stop(self) {
        self.token.cancel();
        for handle in self.handles {
            if let Err(err) = handle.await {
                tracing::error!(group = self.name, error = %err, "a task failed before shutdown");
            }
        }
    }
}
