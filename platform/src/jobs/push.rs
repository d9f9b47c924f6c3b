//! The `push` job (DESIGN: Delivering records): delivers a team's change
//! feed to one destination, batch after batch, until it has caught up.
//!
//! At least once: a batch is marked delivered only after the destination
//! answered 2xx, so a worker that dies between the two sends it again,
//! under the same batch id. A failure is retried with a growing pause;
//! after [`PUSH_ATTEMPTS`] failures in a row the destination is
//! dead-lettered and waits for an admin's Retry. A redirect is a failure:
//! it is never followed (SECURITY I4).

use std::time::Duration;

use super::{ErrorClass, Job, Kind, State};
use crate::{
    Platform,
    delivery::{
        push::{self, BATCH},
        wire,
    },
    error::{Error, Result},
    outbound::destination,
    store::{self, changes::Filter, jobs::PUSH_ATTEMPTS, push::Destination},
};

#[derive(Debug)]
pub struct PushJobs;

/// A batch waits this long for the destination's answer.
const TIMEOUT: Duration = Duration::from_secs(15);

#[async_trait::async_trait]
impl super::JobHandler for PushJobs {
    fn name(&self) -> &'static str {
        "push"
    }

    fn kinds(&self) -> &'static [Kind] {
        &[Kind::Push]
    }

    fn lease(&self, _platform: &Platform) -> Duration {
        Duration::from_secs(60)
    }

    async fn run(&self, platform: &Platform, job: &Job, worker: &str) -> Result<State> {
        let id = job.payload["destination"].as_str().unwrap_or_default();
        loop {
            let Some(found) = store::push::get(&platform.db, &job.team_id, id).await? else {
                return end(platform, job, worker).await;
            };
            if found.state == store::push::State::Dead {
                return end(platform, job, worker).await;
            }
            match deliver_next(platform, &found).await {
                Ok(Sent::Delivered) => {
                    if !super::heartbeat(&platform.db, &job.id, worker, self.lease(platform)).await? {
                        return Ok(State::Interrupted);
                    }
                }
                Ok(Sent::CaughtUp) => return end(platform, job, worker).await,
                Err(why) => {
                    let (failures, state) =
                        store::push::failed(&platform.db, &job.team_id, id, &why, PUSH_ATTEMPTS).await?;
                    tracing::info!(destination = %id, failures, "a push batch was not delivered");
                    if state == store::push::State::Dead {
                        let mut tx = platform.db.begin_write().await?;
                        store::audit::record(
                            &mut tx,
                            &job.team_id,
                            None,
                            "push.dead_lettered",
                            id,
                            &format!("Stopped pushing to {} after {failures} failures in a row: {why}", found.url),
                        )
                        .await?;
                        tx.commit().await?;
                        return end(platform, job, worker).await;
                    }
                    let retry = super::fail(
                        &platform.db,
                        &job.id,
                        worker,
                        ErrorClass::Transient,
                        &why,
                        push::backoff(failures),
                    )
                    .await?;
                    return Ok(retry.unwrap_or(State::Interrupted));
                }
            }
        }
    }

    /// Destinations behind their team's feed whose job was lost (a crash
    /// between a commit and its queue) are queued again.
    async fn schedule(&self, platform: &Platform) -> Result<usize> {
        let mut queued = 0;
        for (id, team) in store::push::behind(&platform.db).await? {
            let mut tx = platform.db.begin_write().await?;
            if matches!(
                store::jobs::enqueue(&mut tx, &store::jobs::push_job(&team, &id, crate::util::now())?).await?,
                store::jobs::Enqueued::Created(_)
            ) {
                queued += 1;
            }
            tx.commit().await?;
        }
        Ok(queued)
    }
}

async fn end(platform: &Platform, job: &Job, worker: &str) -> Result<State> {
    Ok(if super::complete(&platform.db, &job.id, worker).await? { State::Completed } else { State::Interrupted })
}

enum Sent {
    Delivered,
    CaughtUp,
}

/// Sends the batch after what the destination has; `Err` says, in words,
/// why it was not delivered.
async fn deliver_next(platform: &Platform, found: &Destination) -> std::result::Result<Sent, String> {
    let page = store::changes::page(&platform.db, &found.team_id, found.delivered_seq, BATCH, &Filter::default())
        .await
        .map_err(|e| internal(&e))?;
    let page = match page {
        Ok(page) => page,
        Err(store::changes::Unservable::Expired) => {
            return Err("the changes it had not received are past the feed's retention; re-read \
                        `GET /api/v1/records`, then retry"
                .into());
        }
        Err(store::changes::Unservable::Ahead) => return Err("its position is not in this team's feed".into()),
    };
    let Some(last) = page.changes.last().map(|c| c.seq) else { return Ok(Sent::CaughtUp) };
    let batch = push::batch_id(&found.id, found.delivered_seq, last);
    let body = serde_json::to_vec(&serde_json::json!({
        "batch": batch,
        "changes": page.changes.into_iter().map(wire::Change::from).collect::<Vec<_>>(),
        "next_cursor": crate::delivery::feed::encode_cursor(last),
    }))
    .map_err(|_| "the batch could not be encoded".to_owned())?;
    let secret = platform
        .secrets
        .get(&push::secret_path(&found.team_id, &found.id).map_err(|e| internal(&e))?)
        .await
        .map_err(|e| internal(&e))?
        .ok_or_else(|| "its signing secret is gone from the secret store; add the destination again".to_owned())?;
    let allow = platform.delivery.push_allow_private;
    let checked = destination::check_url(&found.url, allow).map_err(|refused| refused.0)?;
    let address = destination::resolve(&checked, allow).await.map_err(|refused| refused.0)?;
    let client = destination::client(&checked, address, TIMEOUT).map_err(|refused| refused.0)?;
    let at = crate::util::now();
    let answer = client
        .post(checked.url.clone())
        .header("content-type", "application/json")
        .header("patchbay-signature", push::signature(&secret.value, at, &body))
        .header("patchbay-batch", &batch)
        .header("idempotency-key", &batch)
        .body(body)
        .send()
        .await
        .map_err(|error| {
            if error.is_timeout() {
                format!("it did not answer within {} s", TIMEOUT.as_secs())
            } else {
                "it could not be reached".to_owned()
            }
        })?;
    let status = answer.status();
    if status.is_redirection() {
        return Err(format!("it answered with a redirect (HTTP {}), which is never followed", status.as_u16()));
    }
    if !status.is_success() {
        return Err(format!("it answered HTTP {}", status.as_u16()));
    }
    store::push::delivered(&platform.db, &found.team_id, &found.id, found.delivered_seq, last)
        .await
        .map_err(|e| internal(&e))?;
    Ok(Sent::Delivered)
}

fn internal(error: &Error) -> String {
    tracing::warn!(%error, "preparing a push batch failed");
    "the console could not prepare the batch; it is tried again".to_owned()
}
