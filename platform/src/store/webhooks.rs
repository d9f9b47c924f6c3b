//! Webhook endpoints, deliveries and refusals (DESIGN: Webhooks). An
//! endpoint is found by its unguessable id alone, since a provider's call
//! carries no session; everything else names the team (SECURITY C1).

use connector_core::webhooks::Subscription;
use sqlx::{AnyConnection, Row as _};

use crate::{
    Db,
    error::{Error, Result},
    ids::{InstallationId, ProviderId, TeamId},
    util::{now, random_id},
};

/// A connection's endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The `{endpoint}` of its URL.
    pub id: String,
    pub team_id: TeamId,
    pub installation_id: InstallationId,
    pub provider: ProviderId,
    /// What is registered at the provider, if anything.
    pub subscription: Option<Subscription>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
    pub renewed_at: Option<i64>,
    pub renew_error: Option<String>,
}

/// A stored id read back; one that does not parse is corruption.
fn stored_id<T>(parse: fn(&str) -> Result<T>, row: &sqlx::any::AnyRow, column: &str) -> Result<T> {
    let text: String = row.try_get(column)?;
    parse(&text).map_err(|_| Error::Corrupt { what: format!("webhook {column}") })
}

const ENDPOINT_COLUMNS: &str =
    "id, team_id, installation_id, provider, subscription, expires_at, renewed_at, renew_error";

fn endpoint_from(row: &sqlx::any::AnyRow) -> Result<Endpoint> {
    let subscription: Option<String> = row.try_get("subscription")?;
    let subscription = match subscription {
        Some(text) => {
            Some(serde_json::from_str(&text).map_err(|_| Error::Corrupt { what: "a webhook subscription".into() })?)
        }
        None => None,
    };
    Ok(Endpoint {
        id: row.try_get("id")?,
        team_id: stored_id(TeamId::parse, row, "team_id")?,
        installation_id: stored_id(InstallationId::parse, row, "installation_id")?,
        provider: stored_id(ProviderId::parse, row, "provider")?,
        subscription,
        expires_at: row.try_get("expires_at")?,
        renewed_at: row.try_get("renewed_at")?,
        renew_error: row.try_get("renew_error")?,
    })
}

/// Mints a connection's endpoint, replacing any it had: a reconnect gets
/// a new URL, and the old one answers as unknown.
pub async fn mint_endpoint(
    conn: &mut AnyConnection,
    team: &TeamId,
    installation: &InstallationId,
    provider: &ProviderId,
) -> Result<Endpoint> {
    delete_routes(conn, team, installation).await?;
    sqlx::query("DELETE FROM webhook_endpoints WHERE team_id = $1 AND installation_id = $2")
        .bind(team.as_str())
        .bind(installation.as_str())
        .execute(&mut *conn)
        .await?;
    let id = random_id();
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, team_id, installation_id, provider, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(team.as_str())
    .bind(installation.as_str())
    .bind(provider.as_str())
    .bind(now())
    .execute(&mut *conn)
    .await?;
    Ok(Endpoint {
        id,
        team_id: team.clone(),
        installation_id: installation.clone(),
        provider: provider.clone(),
        subscription: None,
        expires_at: None,
        renewed_at: None,
        renew_error: None,
    })
}

/// The endpoint a provider's call names, of a connected connection of
/// `provider` only.
pub async fn endpoint(db: &Db, provider: &ProviderId, id: &str) -> Result<Option<Endpoint>> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e WHERE e.id = $1 AND e.provider = $2 AND EXISTS \
         (SELECT 1 FROM installations i WHERE i.id = e.installation_id AND i.state NOT IN ('disconnected', 'connecting'))"
    );
    let row = sqlx::query(&sql).bind(id).bind(provider.as_str()).fetch_optional(db.pool()).await?;
    row.as_ref().map(endpoint_from).transpose()
}

/// The endpoints an app-wide delivery's routing id names, of connected
/// connections of `provider`: one per team that connected it.
pub async fn endpoints_by_route(db: &Db, provider: &ProviderId, route_key: &str) -> Result<Vec<Endpoint>> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e WHERE e.provider = $1 AND e.id IN \
         (SELECT r.endpoint_id FROM webhook_routes r WHERE r.provider = $1 AND r.route_key = $2) AND EXISTS \
         (SELECT 1 FROM installations i WHERE i.id = e.installation_id AND i.state NOT IN ('disconnected', 'connecting')) \
         ORDER BY e.team_id"
    );
    let rows = sqlx::query(&sql).bind(provider.as_str()).bind(route_key).fetch_all(db.pool()).await?;
    rows.iter().map(endpoint_from).collect()
}

/// Forgets a connection's routing ids.
async fn delete_routes(conn: &mut AnyConnection, team: &TeamId, installation: &InstallationId) -> Result<()> {
    sqlx::query(
        "DELETE FROM webhook_routes WHERE endpoint_id IN \
         (SELECT id FROM webhook_endpoints WHERE team_id = $1 AND installation_id = $2)",
    )
    .bind(team.as_str())
    .bind(installation.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A team's connection's endpoint.
pub async fn endpoint_of(db: &Db, team: &TeamId, installation: &InstallationId) -> Result<Option<Endpoint>> {
    let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE team_id = $1 AND installation_id = $2");
    let row = sqlx::query(&sql).bind(team.as_str()).bind(installation.as_str()).fetch_optional(db.pool()).await?;
    row.as_ref().map(endpoint_from).transpose()
}

/// Endpoints with nothing registered yet, or whose subscription expires
/// before `before` (unix seconds), of connected connections.
pub async fn due_for_renewal(db: &Db, before: i64) -> Result<Vec<Endpoint>> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e WHERE (e.subscription IS NULL OR e.expires_at < $1) \
         AND EXISTS (SELECT 1 FROM installations i WHERE i.id = e.installation_id \
         AND i.state IN ('connected', 'syncing')) ORDER BY e.expires_at"
    );
    let rows = sqlx::query(&sql).bind(before).fetch_all(db.pool()).await?;
    rows.iter().map(endpoint_from).collect()
}

/// Records what is registered at the provider, and clears the last error.
/// With `routed`, the subscription's ids are the app-wide deliveries'
/// routing ids that name this endpoint, and replace those it had.
pub async fn set_subscription(
    db: &Db,
    team: &TeamId,
    id: &str,
    subscription: &Subscription,
    routed: bool,
) -> Result<()> {
    let text = serde_json::to_string(subscription).map_err(|e| Error::Corrupt { what: e.to_string() })?;
    let expires_at = subscription.expires_at.map(|at| at.unix_timestamp());
    let mut tx = db.begin_write().await?;
    let updated = sqlx::query(
        "UPDATE webhook_endpoints SET subscription = $1, expires_at = $2, renewed_at = $3, renew_error = NULL \
         WHERE team_id = $4 AND id = $5 RETURNING provider",
    )
    .bind(text)
    .bind(expires_at)
    .bind(now())
    .bind(team.as_str())
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = updated.filter(|_| routed) {
        let provider: String = row.try_get("provider")?;
        sqlx::query("DELETE FROM webhook_routes WHERE endpoint_id = $1").bind(id).execute(&mut *tx).await?;
        for key in &subscription.ids {
            sqlx::query(
                "INSERT INTO webhook_routes (provider, route_key, endpoint_id) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&provider)
            .bind(key)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Records why registering or renewing failed; the provider page shows it.
pub async fn set_renew_error(db: &Db, team: &TeamId, id: &str, error: &str) -> Result<()> {
    sqlx::query("UPDATE webhook_endpoints SET renew_error = $1 WHERE team_id = $2 AND id = $3")
        .bind(error)
        .bind(team.as_str())
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Forgets a connection's endpoint, its deliveries and its tombstones (a
/// disconnect).
pub async fn delete_endpoint(conn: &mut AnyConnection, team: &TeamId, installation: &InstallationId) -> Result<u64> {
    // The installation's row first, as a webhook batch's commit takes it
    // before the deliveries and tombstones: one lock order, no deadlock.
    sqlx::query("UPDATE installations SET state = state WHERE id = $1 AND team_id = $2")
        .bind(installation.as_str())
        .bind(team.as_str())
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM webhook_deliveries WHERE team_id = $1 AND installation_id = $2")
        .bind(team.as_str())
        .bind(installation.as_str())
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM webhook_refusals WHERE installation_id = $1")
        .bind(installation.as_str())
        .execute(&mut *conn)
        .await?;
    delete_routes(conn, team, installation).await?;
    // Tombstones guard one connection's webhooks; a later connection's
    // records come from its own backfill.
    sqlx::query(
        "DELETE FROM webhook_tombstones WHERE team_id = $1 AND provider = \
         (SELECT provider FROM webhook_endpoints WHERE team_id = $1 AND installation_id = $2)",
    )
    .bind(team.as_str())
    .bind(installation.as_str())
    .execute(&mut *conn)
    .await?;
    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE team_id = $1 AND installation_id = $2")
        .bind(team.as_str())
        .bind(installation.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}

/// How far a delivery got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryState {
    Queued,
    Applied,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Applied => "applied",
            DeliveryState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "queued" => DeliveryState::Queued,
            "applied" => DeliveryState::Applied,
            "failed" => DeliveryState::Failed,
            other => return Err(Error::Corrupt { what: format!("delivery state `{other}`") }),
        })
    }
}

/// A verified delivery to record.
#[derive(Clone, Copy, Debug)]
pub struct NewDelivery<'a> {
    pub endpoint: &'a Endpoint,
    /// The provider's delivery id, or a digest of the body.
    pub key: &'a str,
    pub event: Option<&'a str>,
    pub received_at_ms: i64,
    pub body: &'a [u8],
    /// Unix seconds: kept until then (the provider's retry window).
    pub keep_until: i64,
}

/// Whether a delivery was new.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    New(String),
    /// Recorded before (a provider's retry, a replay): not processed again.
    Duplicate(String),
}

/// Records a verified delivery once per (connection, delivery id).
pub async fn record_delivery(conn: &mut AnyConnection, delivery: &NewDelivery<'_>) -> Result<Recorded> {
    let id = random_id();
    let endpoint = delivery.endpoint;
    let inserted = sqlx::query(
        "INSERT INTO webhook_deliveries (id, team_id, installation_id, provider, delivery_key, event, received_at, \
         body, state, keep_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9) \
         ON CONFLICT (installation_id, delivery_key) DO NOTHING",
    )
    .bind(&id)
    .bind(endpoint.team_id.as_str())
    .bind(endpoint.installation_id.as_str())
    .bind(endpoint.provider.as_str())
    .bind(delivery.key)
    .bind(delivery.event)
    .bind(delivery.received_at_ms)
    .bind(delivery.body.to_vec())
    .bind(delivery.keep_until)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Recorded::New(id));
    }
    let earlier: String =
        sqlx::query_scalar("SELECT id FROM webhook_deliveries WHERE installation_id = $1 AND delivery_key = $2")
            .bind(endpoint.installation_id.as_str())
            .bind(delivery.key)
            .fetch_one(&mut *conn)
            .await?;
    Ok(Recorded::Duplicate(earlier))
}

/// A stored delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub team_id: TeamId,
    pub installation_id: InstallationId,
    pub provider: ProviderId,
    pub key: String,
    pub event: Option<String>,
    pub received_at_ms: i64,
    pub state: DeliveryState,
    pub result: Option<String>,
    pub applied_at_ms: Option<i64>,
}

const DELIVERY_COLUMNS: &str =
    "id, team_id, installation_id, provider, delivery_key, event, received_at, state, result, applied_at";

fn delivery_from(row: &sqlx::any::AnyRow) -> Result<Delivery> {
    Ok(Delivery {
        id: row.try_get("id")?,
        team_id: stored_id(TeamId::parse, row, "team_id")?,
        installation_id: stored_id(InstallationId::parse, row, "installation_id")?,
        provider: stored_id(ProviderId::parse, row, "provider")?,
        key: row.try_get("delivery_key")?,
        event: row.try_get("event")?,
        received_at_ms: row.try_get("received_at")?,
        state: DeliveryState::parse(&row.try_get::<String, _>("state")?)?,
        result: row.try_get("result")?,
        applied_at_ms: row.try_get("applied_at")?,
    })
}

/// A team's delivery and its body.
pub async fn delivery(db: &Db, team: &TeamId, id: &str) -> Result<Option<(Delivery, Vec<u8>)>> {
    let sql = format!("SELECT {DELIVERY_COLUMNS}, body FROM webhook_deliveries WHERE team_id = $1 AND id = $2");
    let row = sqlx::query(&sql).bind(team.as_str()).bind(id).fetch_optional(db.pool()).await?;
    match row {
        Some(row) => Ok(Some((delivery_from(&row)?, row.try_get("body")?))),
        None => Ok(None),
    }
}

/// A connection's deliveries waiting to be applied, oldest first, with
/// their bodies, at most `limit`.
pub async fn queued(
    db: &Db,
    team: &TeamId,
    installation: &InstallationId,
    limit: i64,
) -> Result<Vec<(Delivery, Vec<u8>)>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS}, body FROM webhook_deliveries WHERE team_id = $1 AND installation_id = $2 \
         AND state = 'queued' ORDER BY received_at, id LIMIT $3"
    );
    let rows =
        sqlx::query(&sql).bind(team.as_str()).bind(installation.as_str()).bind(limit).fetch_all(db.pool()).await?;
    rows.iter().map(|row| Ok((delivery_from(row)?, row.try_get("body")?))).collect()
}

/// Whether a connection has deliveries waiting.
pub async fn has_queued(db: &Db, team: &TeamId, installation: &InstallationId) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM webhook_deliveries WHERE team_id = $1 AND installation_id = $2 AND state = 'queued' LIMIT 1",
    )
    .bind(team.as_str())
    .bind(installation.as_str())
    .fetch_optional(db.pool())
    .await?;
    Ok(found.is_some())
}

/// Every endpoint with deliveries waiting, for the schedule's sweep.
pub async fn with_queued(db: &Db) -> Result<Vec<Endpoint>> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e WHERE EXISTS (SELECT 1 FROM webhook_deliveries d \
         WHERE d.installation_id = e.installation_id AND d.state = 'queued')"
    );
    let rows = sqlx::query(&sql).fetch_all(db.pool()).await?;
    rows.iter().map(endpoint_from).collect()
}

/// Ends the processing of deliveries, each applied or failed with what
/// happened (or queued again with why), in one transaction.
pub async fn finish_deliveries(db: &Db, team: &TeamId, outcomes: &[(String, DeliveryState, String)]) -> Result<()> {
    let mut tx = db.begin_write().await?;
    finish_deliveries_in(&mut tx, team, outcomes).await?;
    tx.commit().await?;
    Ok(())
}

/// [`finish_deliveries`] in the caller's transaction: the deliveries of a
/// batch are marked in the commit that writes their records. Deliveries
/// with the same outcome take one statement.
pub async fn finish_deliveries_in(
    conn: &mut AnyConnection,
    team: &TeamId,
    outcomes: &[(String, DeliveryState, String)],
) -> Result<()> {
    let now_ms = i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    let mut groups: Vec<(DeliveryState, &str, Vec<&str>)> = Vec::new();
    for (id, state, result) in outcomes {
        match groups.iter_mut().find(|(s, r, _)| s == state && r == result) {
            Some((_, _, ids)) => ids.push(id),
            None => groups.push((*state, result, vec![id])),
        }
    }
    for (state, result, ids) in groups {
        for chunk in ids.chunks(500) {
            let list: Vec<String> = (0..chunk.len()).map(|n| format!("${}", n + 5)).collect();
            let sql = format!(
                "UPDATE webhook_deliveries SET state = $1, result = $2, applied_at = $3 WHERE team_id = $4 \
                 AND id IN ({})",
                list.join(", ")
            );
            let mut update = sqlx::query(&sql)
                .bind(state.as_str())
                .bind(result)
                .bind((state != DeliveryState::Queued).then_some(now_ms))
                .bind(team.as_str());
            for id in chunk {
                update = update.bind(*id);
            }
            update.execute(&mut *conn).await?;
        }
    }
    Ok(())
}

/// Queues a stored delivery to be applied again (Replay). Returns its
/// connection, or `None` when the team has no such delivery.
pub async fn requeue(conn: &mut AnyConnection, team: &TeamId, id: &str) -> Result<Option<InstallationId>> {
    let installation: Option<String> = sqlx::query_scalar(
        "UPDATE webhook_deliveries SET state = 'queued', result = 'replaying' WHERE team_id = $1 AND id = $2 \
         RETURNING installation_id",
    )
    .bind(team.as_str())
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    installation
        .map(|i| InstallationId::parse(&i).map_err(|_| Error::Corrupt { what: "webhook installation_id".into() }))
        .transpose()
}

/// A team's connection's newest deliveries, newest first.
pub async fn recent(db: &Db, team: &TeamId, installation: &InstallationId, limit: i64) -> Result<Vec<Delivery>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE team_id = $1 AND installation_id = $2 \
         ORDER BY received_at DESC, id LIMIT $3"
    );
    let rows =
        sqlx::query(&sql).bind(team.as_str()).bind(installation.as_str()).bind(limit).fetch_all(db.pool()).await?;
    rows.iter().map(delivery_from).collect()
}

/// Deliveries a connection received since `since_ms`, and when the
/// newest came (unix milliseconds).
pub async fn received_since(
    db: &Db,
    team: &TeamId,
    installation: &InstallationId,
    since_ms: i64,
) -> Result<(i64, Option<i64>)> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM webhook_deliveries WHERE team_id = $1 AND installation_id = $2 \
         AND received_at >= $3) AS recent, (SELECT MAX(received_at) FROM webhook_deliveries \
         WHERE team_id = $1 AND installation_id = $2) AS newest",
    )
    .bind(team.as_str())
    .bind(installation.as_str())
    .bind(since_ms)
    .fetch_one(db.pool())
    .await?;
    Ok((row.try_get("recent")?, row.try_get("newest")?))
}

/// Counts a refused delivery to a known endpoint in its hour.
pub async fn count_refusal(db: &Db, installation: &InstallationId) -> Result<()> {
    sqlx::query(
        "INSERT INTO webhook_refusals (installation_id, hour, refused) VALUES ($1, $2, 1) \
         ON CONFLICT (installation_id, hour) DO UPDATE SET refused = webhook_refusals.refused + 1",
    )
    .bind(installation.as_str())
    .bind(now() / 3600)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Refusals counted for a connection in the hours since `since` (unix
/// seconds).
pub async fn refusals_since(db: &Db, installation: &InstallationId, since: i64) -> Result<i64> {
    let total: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(SUM(refused) AS BIGINT) FROM webhook_refusals WHERE installation_id = $1 AND hour >= $2",
    )
    .bind(installation.as_str())
    .bind(since / 3600)
    .fetch_one(db.pool())
    .await?;
    Ok(total.unwrap_or(0))
}

/// Deletes deliveries and tombstones past their retry window, refusal
/// counts older than two days, and webhook jobs ended over a day ago.
/// Returns the deliveries deleted.
pub async fn sweep(db: &Db) -> Result<u64> {
    let done = sqlx::query("DELETE FROM webhook_deliveries WHERE keep_until < $1 AND state <> 'queued'")
        .bind(now())
        .execute(db.pool())
        .await?;
    sqlx::query("DELETE FROM webhook_tombstones WHERE keep_until < $1").bind(now()).execute(db.pool()).await?;
    sqlx::query("DELETE FROM webhook_refusals WHERE hour < $1").bind(now() / 3600 - 48).execute(db.pool()).await?;
    sqlx::query("DELETE FROM jobs WHERE kind = 'webhook' AND state IN ('completed', 'failed') AND finished_at < $1")
        .bind(now() - 86_400)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}
