//! The MCP server at `/mcp`, driven by a real client: the official
//! TypeScript SDK (`end2end/mcp/client.mjs`), over Streamable HTTP
//! (DESIGN: Delivering records; SECURITY I1, I5).

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use crate::common::{self, pid};

use common::TestApp;
use platform::{store::artifacts, testing::TestDatabase};
use serde_json::Value;

const CLIENT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../end2end");

/// Runs the SDK client against the console, with `token`, searching for
/// `query`; what it saw.
async fn client(app: &TestApp, token: Option<&str>, query: &str, foreign_id: &str) -> Value {
    let dir = std::path::Path::new(CLIENT_DIR);
    assert!(
        dir.join("node_modules/@modelcontextprotocol/sdk").is_dir(),
        "the MCP SDK is not installed: run `bash scripts/setup.sh test`"
    );
    let mut command = tokio::process::Command::new("node");
    command
        .arg("mcp/client.mjs")
        .current_dir(dir)
        .env("MCP_URL", app.url("/mcp"))
        .env("MCP_QUERY", query)
        .env("MCP_FOREIGN_ID", foreign_id)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(token) = token {
        command.env("MCP_TOKEN", token);
    }
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), command.output())
        .await
        .expect("the MCP client finishes within a minute")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the client failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| panic!("not JSON: {stdout}"))
}

async fn mcp_token(app: &TestApp, user: &platform::store::users::User) -> String {
    use platform::delivery::tokens::{Request, Scope, create};
    let created =
        create(&app.platform, user, &Request { name: "Agent".into(), scopes: [Scope::Mcp].into(), expires_at: None })
            .await
            .unwrap();
    secrecy::ExposeSecret::expose_secret(&created.token).to_owned()
}

/// SECURITY I1 over MCP: the client lists the four tools and one
/// resource per connection, searches and gets records with their deep
/// links, and sees only its own team's: team B's token, asking for team
/// A's record by its id, is told there is none. A token without the `mcp`
/// scope, a wrong one and none are refused, and so is a revoked one at
/// its next call (I5).
#[tokio::test]
async fn a_real_mcp_client_searches_and_reads_only_its_teams_records() {
    let (app, team) =
        TestApp::with_sandbox_connected(TestDatabase::sqlite(), &[("PATCHBAY_SANDBOX_ITEMS", "20")]).await;
    app.drain().await;
    let admin: platform::store::users::User = {
        let id: String = sqlx::query_scalar("SELECT id FROM users WHERE team_id = $1")
            .bind(team.as_str())
            .fetch_one(app.platform.db.pool())
            .await
            .unwrap();
        platform::store::users::get(&app.platform.db, &platform::ids::UserId::parse(&id).unwrap())
            .await
            .unwrap()
            .unwrap()
    };
    let token = mcp_token(&app, &admin).await;
    let (first, title): (String, String) =
        sqlx::query_as("SELECT entity_id, title FROM artifacts WHERE team_id = $1 ORDER BY entity_id LIMIT 1")
            .bind(team.as_str())
            .fetch_one(app.platform.db.pool())
            .await
            .unwrap();

    let seen = client(&app, Some(&token), &title, "no-such-id").await;
    assert_eq!(seen["server"]["name"], "patchbay");
    assert_eq!(seen["tools"], serde_json::json!(["get_record", "list_connections", "search_records", "sync_status"]));
    assert_eq!(seen["search"]["isError"], false);
    let hit = &seen["search"]["body"]["results"][0]["record"];
    assert_eq!(hit["entity_id"], first.as_str(), "{seen}");
    assert!(hit["url"].as_str().unwrap().starts_with("http"), "a deep link: {hit}");
    assert_eq!(seen["record"]["body"]["title"], title.as_str());
    assert_eq!(seen["record"]["body"]["url"], hit["url"]);
    assert_eq!(seen["foreign"]["isError"], true);
    assert_eq!(seen["connections"]["connections"][0]["provider"], "sandbox");
    assert_eq!(seen["status"]["body"]["counts"]["item"], 20);
    assert_eq!(
        seen["resources"],
        serde_json::json!([{ "uri": "patchbay://connections/sandbox", "name": "Sandbox (demo)" }])
    );
    assert_eq!(seen["resource"]["connection"]["provider"], "sandbox");
    let text = seen.to_string();
    assert!(!text.contains(&token), "the token came back");

    // Team B: its token finds nothing of A's, by search or by A's id.
    let (_, bea) = app.beta_team().await;
    let b = mcp_token(&app, &bea).await;
    let of_b = client(&app, Some(&b), &title, &first).await;
    assert_eq!(of_b["search"]["body"]["results"], serde_json::json!([]), "{of_b}");
    assert_eq!(of_b["foreign"]["isError"], true, "A's record by id, with B's token: {of_b}");
    assert_eq!(of_b["connections"]["connections"], serde_json::json!([]));
    assert_eq!(of_b["resources"], serde_json::json!([]));
    assert!(artifacts::ids(&app.platform.db, &team, &pid("sandbox")).await.unwrap().contains(&first));

    // Refused: no token, a wrong one, one without the scope, a revoked one.
    for refused in [None, Some("pb_wrong".to_owned())] {
        let seen = client(&app, refused.as_deref(), "x", "x").await;
        assert!(seen["refused"].as_str().is_some_and(|r| r.contains("\"unauthorized\"")), "{seen}");
    }
    let records_only = platform::delivery::tokens::create(
        &app.platform,
        &admin,
        &platform::delivery::tokens::Request {
            name: "Feed".into(),
            scopes: [platform::delivery::tokens::Scope::RecordsRead].into(),
            expires_at: None,
        },
    )
    .await
    .unwrap();
    let seen = client(&app, Some(secrecy::ExposeSecret::expose_secret(&records_only.token)), "x", "x").await;
    assert!(seen["refused"].as_str().is_some_and(|r| r.contains("\"forbidden\"")), "{seen}");
    let id: String = sqlx::query_scalar("SELECT id FROM api_tokens WHERE name = 'Agent' AND team_id = $1")
        .bind(team.as_str())
        .fetch_one(app.platform.db.pool())
        .await
        .unwrap();
    platform::delivery::tokens::revoke(&app.platform, &admin, &id).await.unwrap();
    let seen = client(&app, Some(&token), &title, "x").await;
    assert!(seen["refused"].as_str().is_some_and(|r| r.contains("\"unauthorized\"")), "revoked: {seen}");
    app.stop().await;
}
