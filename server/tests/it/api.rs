//! The records API over HTTP (DESIGN: Delivering records; SECURITY I1,
//! I2, I5): tokens made in the console, the feed, records, search and
//! connections, the errors, and the OpenAPI description checked against
//! the real answers.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use crate::common::{self, pid};

use common::TestApp;
use platform::{
    ids::{InstallationId, TeamId},
    store::artifacts,
    testing::TestDatabase,
};
use serde_json::{Value, json};

/// Creates a token in the admin's browser, as the settings panel does.
async fn token(app: &TestApp, scopes: &[&str]) -> String {
    let mut fields = vec![("name", "Knowledge platform"), ("expires_in_days", "")];
    for scope in scopes {
        fields.push((
            match *scope {
                "records:read" => "records_read",
                "connections:read" => "connections_read",
                _ => "mcp",
            },
            "on",
        ));
    }
    let created = app.browser.post_form("/api/create_api_token", &fields).await;
    assert!(created.status().is_success(), "{:?}", created.text().await);
    let created: Value = created.json().await.unwrap();
    created["token"].as_str().unwrap().to_owned()
}

async fn call(app: &TestApp, token: Option<&str>, path: &str) -> (u16, Value) {
    let mut request = app.client.get(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A console with the sandbox connected and synced (30 items).
async fn synced(db: TestDatabase, settings: &[(&str, &str)]) -> (TestApp, TeamId) {
    let mut all = vec![("PATCHBAY_SANDBOX_ITEMS", "30")];
    all.extend_from_slice(settings);
    let (app, team) = TestApp::with_sandbox_connected(db, &all).await;
    app.drain().await;
    (app, team)
}

/// Team B with a sandbox connection holding records under the same ids as
/// the admin's team, with titles of its own.
async fn beta_with_the_same_ids(app: &TestApp, team_a: &TeamId) -> (TeamId, platform::store::users::User) {
    let (team_b, bea) = app.beta_team().await;
    let installation = InstallationId::new();
    sqlx::query(
        "INSERT INTO installations (id, team_id, provider, state, account_id, display_name, settings, updated_at) \
         VALUES ($1, $2, 'sandbox', 'connected', 'b-1', 'Beta sandbox', '{}', 0)",
    )
    .bind(installation.as_str())
    .bind(team_b.id.as_str())
    .execute(app.platform.db.pool())
    .await
    .unwrap();
    let ids = artifacts::ids(&app.platform.db, team_a, &pid("sandbox")).await.unwrap();
    let changes: Vec<_> = ids
        .iter()
        .take(5)
        .map(|id| {
            connector_core::source::Change::Upsert(connector_core::source::Record {
                entity_type: "item".into(),
                entity_id: id.clone(),
                title: format!("Beta's own {id} zebraword"),
                url: format!("https://beta.example/{id}"),
                content: json!({ "note": "beta" }),
                updated_at: time::OffsetDateTime::now_utc(),
            })
        })
        .collect();
    artifacts::commit_page(&app.platform.db, &team_b.id, &installation, &pid("sandbox"), &changes, &[], None)
        .await
        .unwrap();
    (team_b.id, bea)
}

/// SECURITY I1: a token of team A reads nothing of team B, whatever it
/// asks for: the feed, the records, one record by B's ids, search, the
/// connections.
async fn a_token_reads_only_its_own_team(db: TestDatabase) {
    let (app, team_a) = synced(db, &[]).await;
    let (team_b, bea) = beta_with_the_same_ids(&app, &team_a).await;
    let a = token(&app, &["records:read", "connections:read"]).await;
    let b = platform::delivery::tokens::create(
        &app.platform,
        &bea,
        &platform::delivery::tokens::Request {
            name: "Beta's platform".into(),
            scopes: [platform::delivery::tokens::Scope::RecordsRead].into(),
            expires_at: None,
        },
    )
    .await
    .unwrap();
    let b = secrecy::ExposeSecret::expose_secret(&b.token).to_owned();

    let (status, feed) = call(&app, Some(&a), "/api/v1/changes?limit=1000").await;
    assert_eq!(status, 200);
    let changes = feed["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 30, "A's feed holds A's 30 records");
    assert!(changes.iter().all(|c| !c["record"]["title"].as_str().unwrap().contains("Beta")), "no B record");
    let (_, feed_b) = call(&app, Some(&b), "/api/v1/changes?limit=1000").await;
    assert_eq!(feed_b["changes"].as_array().unwrap().len(), 5, "B's feed holds B's 5");
    let (status, _) =
        call(&app, Some(&b), &format!("/api/v1/changes?after={}", feed["next_cursor"].as_str().unwrap())).await;
    assert_eq!(status, 400, "A's position is no position in B's feed");

    let (_, records) = call(&app, Some(&a), "/api/v1/records?limit=1000").await;
    assert_eq!(records["records"].as_array().unwrap().len(), 30);
    let id = changes[0]["entity_id"].as_str().unwrap();
    let (_, of_a) = call(&app, Some(&a), &format!("/api/v1/records/sandbox/item/{id}")).await;
    assert!(!of_a["title"].as_str().unwrap().contains("Beta"), "{of_a}");
    let only_a = artifacts::ids(&app.platform.db, &team_a, &pid("sandbox")).await.unwrap().pop().unwrap();
    let (status, body) = call(&app, Some(&b), &format!("/api/v1/records/sandbox/item/{only_a}")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "A's record by id, with B's token");

    let (_, hits) = call(&app, Some(&a), "/api/v1/search?q=zebraword").await;
    assert_eq!(hits["results"], json!([]), "B's word finds nothing for A");
    let (_, hits) = call(&app, Some(&b), "/api/v1/search?q=zebraword").await;
    assert_eq!(hits["results"].as_array().unwrap().len(), 5);

    let (_, connections) = call(&app, Some(&a), "/api/v1/connections").await;
    let connections = connections["connections"].as_array().unwrap();
    assert_eq!(connections.len(), 1);
    assert_eq!(connections[0]["provider"], "sandbox");
    assert_eq!(connections[0]["counts"]["item"], 30, "A's count, not A's and B's");
    assert_ne!(connections[0]["account"]["id"], "b-1");
    let _ = team_b;
    app.stop().await;
}
platform::test_on_both_backends!(i1_team_scoped, a_token_reads_only_its_own_team);

/// SECURITY I2: a token is shown once, in the create's answer; the list
/// shows its last four characters; only its digest is stored; and no log
/// line holds it, used or refused.
#[tokio::test]
async fn i2_a_token_is_shown_once_stored_as_a_digest_and_never_logged() {
    let logs = platform::testing::capture_logs();
    let (app, team) = synced(TestDatabase::sqlite(), &[("PATCHBAY_LOG", "trace")]).await;
    let canary = token(&app, &["records:read"]).await;
    assert!(canary.starts_with("pb_") && canary.len() > 40, "{canary}");
    for path in ["/api/v1/changes", "/api/v1/records", "/api/v1/search?q=item", "/api/v1/connections"] {
        call(&app, Some(&canary), path).await;
    }
    call(&app, Some(&format!("{canary}x")), "/api/v1/changes").await;

    let listed = app.browser.post_form("/api/list_api_tokens", &[]).await.text().await.unwrap();
    assert!(!listed.contains(&canary), "the list holds the token");
    assert!(listed.contains(&canary[canary.len() - 4..]), "the list shows its last four");
    let page = app.browser.get("/settings").await.text().await.unwrap();
    assert!(!page.contains(&canary), "the settings page holds the token");
    let stored: Vec<(String, String, String)> =
        sqlx::query_as("SELECT id, digest, name FROM api_tokens WHERE team_id = $1")
            .bind(team.as_str())
            .fetch_all(app.platform.db.pool())
            .await
            .unwrap();
    use sha2::Digest as _;
    assert_eq!(stored[0].1, hex::encode(sha2::Sha256::digest(canary.as_bytes())));
    let dump: Vec<String> =
        sqlx::query_scalar("SELECT detail FROM audit_events").fetch_all(app.platform.db.pool()).await.unwrap();
    assert!(dump.iter().all(|d| !d.contains(&canary)), "the audit log holds the token");
    assert!(dump.iter().any(|d| d.contains("Created the API token")), "the creation is audited");
    let text = logs.text();
    assert!(text.contains("/api/v1/changes"), "the requests were logged at all");
    assert!(!text.contains(&canary[3..]), "a log line holds the token");
    app.stop().await;
}

/// SECURITY I5: a revoked token is refused on the very next request; so is
/// an expired one. The admin's revoke is audited.
async fn revocation_and_expiry_hold_at_the_next_request(db: TestDatabase) {
    let (app, team) = synced(db, &[]).await;
    let live = token(&app, &["records:read"]).await;
    assert_eq!(call(&app, Some(&live), "/api/v1/records?limit=1").await.0, 200);
    let id: String = sqlx::query_scalar("SELECT id FROM api_tokens WHERE team_id = $1")
        .bind(team.as_str())
        .fetch_one(app.platform.db.pool())
        .await
        .unwrap();
    let revoked = app.browser.post_form("/api/revoke_api_token", &[("id", &id)]).await;
    assert!(revoked.status().is_success());
    let (status, body) = call(&app, Some(&live), "/api/v1/records?limit=1").await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")));

    let expiring = token(&app, &["records:read"]).await;
    assert_eq!(call(&app, Some(&expiring), "/api/v1/records?limit=1").await.0, 200);
    sqlx::query("UPDATE api_tokens SET expires_at = $1 WHERE revoked_at IS NULL")
        .bind(time::OffsetDateTime::now_utc().unix_timestamp() - 1)
        .execute(app.platform.db.pool())
        .await
        .unwrap();
    assert_eq!(call(&app, Some(&expiring), "/api/v1/records?limit=1").await.0, 401);
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_events WHERE team_id = $1")
        .bind(team.as_str())
        .fetch_all(app.platform.db.pool())
        .await
        .unwrap();
    assert!(actions.iter().any(|a| a == "api_token.revoked"), "{actions:?}");
    app.stop().await;
}
platform::test_on_both_backends!(i5_revocation, revocation_and_expiry_hold_at_the_next_request);

/// Tokens are for admins: a member can neither list nor create them.
#[tokio::test]
async fn only_admins_manage_tokens() {
    let (app, _) = synced(TestDatabase::sqlite(), &[]).await;
    let member = app.member("Max Member", "max@example.com").await;
    let created = member.post_form("/api/create_api_token", &[("name", "mine"), ("records_read", "on")]).await;
    assert_eq!(created.status(), 403);
    assert_eq!(member.post_form("/api/list_api_tokens", &[]).await.status(), 403);
    app.stop().await;
}

/// Every refusal is `{error: {code, message}}` with its status: no token,
/// a wrong one, a missing scope, a bad cursor or limit or time, an
/// unknown record or path, a cursor past retention (410, with the words
/// that say what to do), and a token over its rate (429 with Retry-After).
#[tokio::test]
async fn refusals_are_json_with_real_statuses() {
    let (app, _) = synced(
        TestDatabase::sqlite(),
        &[("PATCHBAY_API_REQUESTS_PER_MINUTE", "40"), ("PATCHBAY_CHANGES_RETENTION", "60")],
    )
    .await;
    let records = token(&app, &["records:read"]).await;
    let connections_only = token(&app, &["connections:read"]).await;
    let expect = |(status, body): (u16, Value), want: u16, code: &str| {
        assert_eq!(status, want, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
        body["error"]["message"].as_str().unwrap().to_owned()
    };
    expect(call(&app, None, "/api/v1/changes").await, 401, "unauthorized");
    expect(call(&app, Some("pb_not-a-token"), "/api/v1/changes").await, 401, "unauthorized");
    let message = expect(call(&app, Some(&connections_only), "/api/v1/changes").await, 403, "forbidden");
    assert!(message.contains("records:read"), "{message}");
    expect(call(&app, Some(&records), "/api/v1/connections").await, 403, "forbidden");
    expect(call(&app, Some(&records), "/api/v1/changes?after=garbage").await, 400, "bad_request");
    expect(call(&app, Some(&records), "/api/v1/changes?limit=1001").await, 400, "bad_request");
    expect(call(&app, Some(&records), "/api/v1/records?updated_since=yesterday").await, 400, "bad_request");
    expect(call(&app, Some(&records), "/api/v1/search?q=%20").await, 400, "bad_request");
    expect(call(&app, Some(&records), "/api/v1/records/sandbox/item/nope").await, 404, "not_found");
    expect(call(&app, Some(&records), "/api/v1/nothing-here").await, 404, "not_found");

    // Retention: the changes are made older than it keeps, and swept.
    let (_, first) = call(&app, Some(&records), "/api/v1/changes?limit=1").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    sqlx::query("UPDATE changes SET committed_at = committed_at - 3600").execute(app.platform.db.pool()).await.unwrap();
    platform::jobs::sweep_changes(&app.platform).await;
    for stale in [format!("/api/v1/changes?after={cursor}"), "/api/v1/changes".to_owned()] {
        let message = expect(call(&app, Some(&records), &stale).await, 410, "gone");
        assert!(message.contains("re-read `GET /api/v1/records`"), "{message}");
    }
    let (_, page) = call(&app, Some(&records), "/api/v1/records?limit=1").await;
    let (status, fresh) =
        call(&app, Some(&records), &format!("/api/v1/changes?after={}", page["changes_cursor"].as_str().unwrap()))
            .await;
    assert_eq!((status, fresh["changes"].as_array().map(Vec::len)), (200, Some(0)), "the records' cursor serves");

    // The rate: this token has made 15 requests; 25 more fill its minute.
    let mut last = (0, Value::Null);
    let mut limited = None;
    for _ in 0..40 {
        let response = app.client.get(app.url("/api/v1/records?limit=1")).bearer_auth(&records).send().await.unwrap();
        if response.status() == 429 {
            limited = response.headers().get("retry-after").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
            last = (429, response.json().await.unwrap());
            break;
        }
    }
    let wait = limited.expect("the token was never limited");
    assert!((1..=60).contains(&wait), "{wait}");
    expect(last, 429, "rate_limited");
    assert_eq!(call(&app, Some(&connections_only), "/api/v1/connections").await.0, 200, "another token is not limited");
    app.stop().await;
}

/// Checks `value` against an OpenAPI schema: types, required and known
/// properties, arrays, enums and references into `components`.
fn conforms(spec: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return conforms(spec, &spec["components"]["schemas"][name], value, at);
    }
    if let Some(options) = schema["oneOf"].as_array().or_else(|| schema["anyOf"].as_array()) {
        return if options.iter().any(|option| conforms(spec, option, value, at).is_ok()) {
            Ok(())
        } else {
            Err(format!("{at}: {value} matches none of {options:?}"))
        };
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {values:?}"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let allowed = types.is_empty() || types.contains(&kind) || (kind == "integer" && types.contains(&"number"));
    if !allowed {
        return Err(format!("{at}: {kind} where the schema says {types:?}"));
    }
    if let Value::Object(fields) = value {
        let properties = schema["properties"].as_object();
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap();
            if !fields.contains_key(name) {
                return Err(format!("{at}: `{name}` is required and missing"));
            }
        }
        if let Some(properties) = properties {
            for (name, field) in fields {
                let property = properties.get(name).ok_or_else(|| format!("{at}: `{name}` is not documented"))?;
                conforms(spec, property, field, &format!("{at}.{name}"))?;
            }
        }
    }
    if let Value::Array(items) = value {
        for (n, item) in items.iter().enumerate() {
            conforms(spec, &schema["items"], item, &format!("{at}[{n}]"))?;
        }
    }
    Ok(())
}

/// The OpenAPI description names every endpoint of the API, and each
/// answers, with data in it, exactly the shape it documents: for its
/// success and for its refusals.
#[tokio::test]
async fn every_documented_path_answers_with_the_documented_shape() {
    let (app, team) = synced(TestDatabase::sqlite(), &[]).await;
    let all = token(&app, &["records:read", "connections:read"]).await;
    // A delete in the feed too, so both shapes of a change are checked.
    let gone = artifacts::ids(&app.platform.db, &team, &pid("sandbox")).await.unwrap().pop().unwrap();
    let installation: String = sqlx::query_scalar("SELECT id FROM installations WHERE team_id = $1")
        .bind(team.as_str())
        .fetch_one(app.platform.db.pool())
        .await
        .unwrap();
    let removal = connector_core::source::Change::Remove { entity_type: "item".into(), entity_id: gone };
    let installation = InstallationId::parse(&installation).unwrap();
    artifacts::commit_page(&app.platform.db, &team, &installation, &pid("sandbox"), &[removal], &[], None)
        .await
        .unwrap();
    let response = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let spec: Value = response.json().await.unwrap();
    let paths = spec["paths"].as_object().unwrap();
    let mut documented: Vec<&str> = paths.keys().map(String::as_str).collect();
    documented.sort_unstable();
    assert_eq!(
        documented,
        [
            "/api/v1/changes",
            "/api/v1/connections",
            "/api/v1/records",
            "/api/v1/records/{provider}/{entity_type}/{entity_id}",
            "/api/v1/search",
        ]
    );
    let (_, first) = call(&app, Some(&all), "/api/v1/records?limit=1").await;
    let id = first["records"][0]["entity_id"].as_str().unwrap().to_owned();
    let title = first["records"][0]["title"].as_str().unwrap().to_owned();
    let word = title.split_whitespace().next().unwrap().to_owned();
    for (template, operation) in paths {
        let path =
            template.replace("{provider}", "sandbox").replace("{entity_type}", "item").replace("{entity_id}", &id);
        let query = match template.as_str() {
            "/api/v1/search" => format!("?q={word}"),
            "/api/v1/changes" | "/api/v1/records" => "?limit=1000".to_owned(),
            _ => String::new(),
        };
        let (status, body) = call(&app, Some(&all), &format!("{path}{query}")).await;
        assert_eq!(status, 200, "{path}: {body}");
        let schema = &operation["get"]["responses"]["200"]["content"]["application/json"]["schema"];
        assert!(!schema.is_null(), "{template} documents no 200 body");
        conforms(&spec, schema, &body, template).unwrap();
        let (status, refused) = call(&app, None, &format!("{path}{query}")).await;
        assert_eq!(status, 401);
        let schema = &operation["get"]["responses"]["401"]["content"]["application/json"]["schema"];
        conforms(&spec, schema, &refused, &format!("{template} 401")).unwrap();
        assert_eq!(operation["get"]["security"][0]["token"], json!([]), "{template} documents its token");
    }
    let (_, feed) = call(&app, Some(&all), "/api/v1/changes?limit=1000").await;
    let ops: Vec<&str> = feed["changes"].as_array().unwrap().iter().map(|c| c["op"].as_str().unwrap()).collect();
    assert!(ops.contains(&"upsert") && ops.contains(&"delete"), "{ops:?}");
    app.stop().await;
}

/// A knowledge platform mirrors the team through the API: it copies the
/// records, follows the feed from the cursor the copy gave, and after the
/// source changes and the connection is re-synced and then disconnected,
/// its copy is exactly the console's records at each step.
#[tokio::test]
async fn a_mirror_built_through_the_api_matches_the_console() {
    let (app, team) = synced(TestDatabase::sqlite(), &[]).await;
    let key = token(&app, &["records:read"]).await;
    let mut mirror = std::collections::BTreeMap::new();
    let (mut after, mut cursor) = (None::<String>, None::<String>);
    loop {
        let path = match &after {
            Some(after) => format!("/api/v1/records?limit=7&after={after}"),
            None => "/api/v1/records?limit=7".to_owned(),
        };
        let (_, page) = call(&app, Some(&key), &path).await;
        cursor.get_or_insert_with(|| page["changes_cursor"].as_str().unwrap().to_owned());
        for record in page["records"].as_array().unwrap() {
            mirror.insert(record["entity_id"].as_str().unwrap().to_owned(), record["title"].clone());
        }
        match page["next_cursor"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    let console = |app: &TestApp| {
        let db = app.platform.db.clone();
        let team = team.clone();
        async move {
            sqlx::query_as::<_, (String, String)>(
                "SELECT entity_id, title FROM artifacts WHERE team_id = $1 ORDER BY entity_id",
            )
            .bind(team.as_str())
            .fetch_all(db.pool())
            .await
            .unwrap()
            .into_iter()
            .map(|(id, title)| (id, Value::String(title)))
            .collect::<std::collections::BTreeMap<_, _>>()
        }
    };
    assert_eq!(mirror, console(&app).await);
    let follow = |mirror: &mut std::collections::BTreeMap<String, Value>, page: &Value| {
        for change in page["changes"].as_array().unwrap() {
            let id = change["entity_id"].as_str().unwrap().to_owned();
            match change["op"].as_str().unwrap() {
                "upsert" => mirror.insert(id, change["record"]["title"].clone()),
                _ => mirror.remove(&id),
            };
        }
    };
    // The source changes, and a full re-sync runs; then the connection
    // is disconnected.
    let sandbox = app.sandbox.as_ref().unwrap();
    assert!(sandbox.touch_item(3) && sandbox.delete_item(5) && sandbox.set_item_private(7, true));
    sandbox.create_item();
    // The first sync was an hour ago: a full pass deletes only what it has
    // not seen since a margin before it started.
    sqlx::query("UPDATE artifacts SET synced_at = synced_at - 3600").execute(app.platform.db.pool()).await.unwrap();
    let queued = app.browser.post_form("/api/start_sync", &[("provider", "sandbox"), ("kind", "full_backfill")]).await;
    assert!(queued.status().is_success(), "{:?}", queued.text().await);
    app.drain().await;
    let mut cursor = cursor.unwrap();
    for step in ["re-synced", "disconnected"] {
        let mut changes = 0;
        loop {
            let (status, page) = call(&app, Some(&key), &format!("/api/v1/changes?after={cursor}&limit=5")).await;
            assert_eq!(status, 200, "{page}");
            follow(&mut mirror, &page);
            changes += page["changes"].as_array().unwrap().len();
            cursor = page["next_cursor"].as_str().unwrap().to_owned();
            if page["caught_up"] == true {
                break;
            }
        }
        assert_eq!(mirror, console(&app).await, "after the connection was {step}");
        if step == "re-synced" {
            assert_eq!(
                changes, 4,
                "a full re-sync emits only what changed: an edit, a deletion, a privacy flip, a new item"
            );
            let gone = app.browser.post_form("/api/disconnect_provider", &[("provider", "sandbox")]).await;
            assert!(gone.status().is_success(), "{:?}", gone.text().await);
        }
    }
    assert!(mirror.is_empty(), "a disconnect's records are deleted downstream too");
    app.stop().await;
}

/// `PATCHBAY_CHANGE_FEED=off`: the records sync and are served, nothing is
/// appended to the feed, and the feed says it is off, in words.
#[tokio::test]
async fn with_the_feed_off_records_are_served_and_the_feed_says_so() {
    let (app, _) = synced(TestDatabase::sqlite(), &[("PATCHBAY_CHANGE_FEED", "off")]).await;
    let key = token(&app, &["records:read"]).await;
    let (status, records) = call(&app, Some(&key), "/api/v1/records?limit=1000").await;
    assert_eq!((status, records["records"].as_array().unwrap().len()), (200, 30));
    let (status, body) = call(&app, Some(&key), "/api/v1/changes").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    assert!(body["error"]["message"].as_str().unwrap().contains("PATCHBAY_CHANGE_FEED=off"), "{body}");
    let changes: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM changes").fetch_one(app.platform.db.pool()).await.unwrap();
    assert_eq!(changes, 0);
    app.stop().await;
}

/// SECURITY I5 across replicas: two consoles on one database; a token
/// revoked on one is refused by the other at its next request (no replica
/// caches a token).
async fn a_revocation_holds_on_every_replica(db: TestDatabase) {
    let (app, team) = synced(db, &[]).await;
    let (url, key_dir) = (app.db.url().clone(), app.data_dir().to_owned());
    let replica = TestApp::spawn_configured(TestDatabase::sqlite(), &[], move |config| {
        // The same database, and the same secret store's key.
        config.database_url = url;
        if let platform::secrets::SecretsConfig::Local(local) = &mut config.secrets {
            local.key = platform::secrets::local::KeySource::File(key_dir);
        }
    })
    .await;
    let key = token(&app, &["records:read"]).await;
    assert_eq!(call(&replica, Some(&key), "/api/v1/records?limit=1").await.0, 200, "the replica knows the token");
    let id: String = sqlx::query_scalar("SELECT id FROM api_tokens WHERE team_id = $1")
        .bind(team.as_str())
        .fetch_one(app.platform.db.pool())
        .await
        .unwrap();
    assert!(app.browser.post_form("/api/revoke_api_token", &[("id", &id)]).await.status().is_success());
    assert_eq!(call(&replica, Some(&key), "/api/v1/records?limit=1").await.0, 401, "the replica refuses it at once");
    replica.stop().await;
    app.stop().await;
}
platform::test_on_both_backends!(i5_replicas, a_revocation_holds_on_every_replica);
