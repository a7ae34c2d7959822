//! The IncidentManager's side of escalation: an incident's escalation
//! started when it is triggered and told of acknowledgements and
//! resolutions, and the pager that sends each level's pages through
//! [`Contacts`](super::Contacts) and journals them.

use chrono::{DateTime, Utc};
use steward_core::Actor;
use tokio::sync::watch;

use super::IncidentManager;
use crate::{
    Result, events,
    incident::{Action, Incident, Status},
    oncall::{Page, Pager, Response, escalate},
};
use std::sync::PoisonError;

impl IncidentManager {
    /// Keeps the incident's escalation in step with its status at `at`:
    /// started when it is triggered and nothing pages for it, told of
    /// acknowledgements and resolutions.
    pub(super) fn follow(&self, incident: &Incident, at: DateTime<Utc>) {
        let response = match incident.status {
            Status::Triggered => Response::Triggered,
            Status::Acknowledged => Response::Acknowledged(at),
            Status::Mitigated | Status::Resolved => Response::Resolved,
        };
        let mut escalations = self
            .inner
            .escalations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = escalations.get(&incident.id)
            && !sender.is_closed()
        {
            sender.send_if_modified(|current| {
                let changed = *current != response;
                *current = response;
                changed
            });
            if response == Response::Resolved {
                escalations.remove(&incident.id);
            }
            return;
        }
        escalations.remove(&incident.id);
        if response != Response::Triggered || self.inner.stop.is_cancelled() {
            return;
        }
        let settings = self.settings();
        let Some(policy) = settings.escalation.clone() else {
            return;
        };
        let (sender, receiver) = watch::channel(response);
        escalations.insert(incident.id.clone(), sender.clone());
        drop(escalations);
        let pager = IncidentPager {
            manager: self.clone(),
            id: incident.id.clone(),
        };
        let (this, id) = (self.clone(), incident.id.clone());
        let stop = self.inner.stop.clone();
        let ack_timeout = settings.ack_timeout;
        self.inner.tasks.spawn(async move {
            tokio::select! {
                ended = escalate(&policy, at, ack_timeout, &pager, receiver) => {
                    tracing::debug!(incident = %id, ?ended, "escalation ended");
                }
                () = stop.cancelled() => {}
            }
            let mut escalations = this
                .inner
                .escalations
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if escalations
                .get(&id)
                .is_some_and(|s| s.same_channel(&sender))
            {
                escalations.remove(&id);
            }
        });
    }

    /// Journals the pages of one escalation level.
    pub(super) async fn paged(&self, id: &str, page: &Page) -> Result<()> {
        let incident = self.load(id).await?;
        if page.users.is_empty() {
            let _guard = self.inner.changes.lock().await;
            let incident = self.load(id).await?;
            let event = events::paged(
                &incident,
                "(nobody)",
                page.level,
                page.round,
                &Err("nobody is on call at this level".to_owned()),
            );
            return self.inner.store.save(&incident, vec![event]).await;
        }
        let mut outcomes = Vec::with_capacity(page.users.len());
        for user in &page.users {
            outcomes.push((
                user.clone(),
                self.inner.contacts.page(user, &incident, page).await,
            ));
        }
        let _guard = self.inner.changes.lock().await;
        let incident = self.load(id).await?;
        let events = outcomes
            .iter()
            .map(|(user, outcome)| events::paged(&incident, user, page.level, page.round, outcome))
            .collect();
        self.inner.store.save(&incident, events).await
    }

    /// An acknowledgement timed out: the incident is triggered again.
    pub(super) async fn retrigger(&self, id: &str, at: DateTime<Utc>) -> Result<()> {
        let _guard = self.inner.changes.lock().await;
        let mut incident = self.load(id).await?;
        let change = incident.apply(Action::Unacknowledge, at)?;
        if let Some(event) = events::changed(&incident, &change, &Actor::system()) {
            self.inner.store.save(&incident, vec![event]).await?;
        }
        Ok(())
    }
}

/// The escalation's pager for one incident.
struct IncidentPager {
    manager: IncidentManager,
    id: String,
}

#[async_trait::async_trait]
impl Pager for IncidentPager {
    async fn page(&self, page: &Page) {
        if let Err(err) = self.manager.paged(&self.id, page).await {
            tracing::warn!(incident = %self.id, error = %err, "cannot page");
        }
    }

    async fn retriggered(&self, acknowledged_at: DateTime<Utc>, at: DateTime<Utc>) {
        tracing::info!(incident = %self.id, %acknowledged_at, "acknowledgement timed out");
        if let Err(err) = self.manager.retrigger(&self.id, at).await {
            tracing::warn!(incident = %self.id, error = %err, "cannot trigger the incident again");
        }
    }
}
