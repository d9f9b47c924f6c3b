//! Each family against its provider's documented example, then each way a
//! delivery must be refused (SECURITY H1, H2; CONNECTOR-RULES 40).

use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
    }
    map
}

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap()
}

fn check(
    verifier: &Verifier,
    secret: &str,
    url: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<Verified, Refusal> {
    verifier.verify(secret.as_bytes(), &Inbound { method: "POST", url, headers, body }, now)
}

/// A copy of `body` with one byte changed.
fn flipped(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    let last = out.len() - 1;
    out[last] ^= 0x01;
    out
}

fn without(headers: &HeaderMap, name: &str) -> HeaderMap {
    let mut out = headers.clone();
    out.remove(name);
    out
}

const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const GITHUB_SIGNATURE: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

fn hmac(header: &str, prefix: &str, encoding: Encoding) -> Verifier {
    Verifier::HmacSha256 {
        header: header.into(),
        prefix: prefix.into(),
        encoding,
        signed_at: None,
        tolerance_seconds: DEFAULT_TOLERANCE_SECONDS,
    }
}

fn github() -> Verifier {
    hmac("x-hub-signature-256", "sha256=", Encoding::Hex)
}

/// H1, rule 40: GitHub's documented example (validating webhook
/// deliveries) verifies; a flipped byte, another secret, no header, or a
/// signature without its prefix do not.
#[test]
fn hmac_body_family_verifies_githubs_documented_example_and_refuses_tampering() {
    let h = headers(&[("x-hub-signature-256", GITHUB_SIGNATURE)]);
    let body = b"Hello, World!";
    let now = at(1_700_000_000);
    assert_eq!(check(&github(), GITHUB_SECRET, "https://c/w", &h, body, now), Ok(Verified { signed_at: None }));
    assert_eq!(check(&github(), GITHUB_SECRET, "https://c/w", &h, &flipped(body), now), Err(Refusal::Mismatch));
    assert_eq!(check(&github(), "It's a Secret to Everybody!", "https://c/w", &h, body, now), Err(Refusal::Mismatch));
    assert_eq!(check(&github(), GITHUB_SECRET, "https://c/w", &HeaderMap::new(), body, now), Err(Refusal::Missing));
    let bare = headers(&[("x-hub-signature-256", &GITHUB_SIGNATURE["sha256=".len()..])]);
    assert_eq!(check(&github(), GITHUB_SECRET, "https://c/w", &bare, body, now), Err(Refusal::Malformed));
    let junk = headers(&[("x-hub-signature-256", "sha256=zz")]);
    assert_eq!(check(&github(), GITHUB_SECRET, "https://c/w", &junk, body, now), Err(Refusal::Malformed));
    // Linear and Asana: the same family without a prefix; base64 too.
    let linear = hmac("linear-signature", "", Encoding::Hex);
    let h = headers(&[("linear-signature", &GITHUB_SIGNATURE["sha256=".len()..])]);
    assert!(check(&linear, GITHUB_SECRET, "https://c/w", &h, body, now).is_ok());
    let b64 = hmac("x-sig", "", Encoding::Base64);
    let signed = sign(&b64, GITHUB_SECRET.as_bytes(), "", now, body);
    assert_eq!(signed[0].1, "dXEH6g6yUJ/CESIczphLijdXC211hsIsRvQ3nIsEPhc=");
    let h = headers(&[("x-sig", &signed[0].1)]);
    assert!(check(&b64, GITHUB_SECRET, "https://c/w", &h, body, now).is_ok());
}

/// H1, H2: Linear signs the body and puts the time of sending in it
/// (`webhookTimestamp`, milliseconds); a delivery more than a minute old is
/// a replay, and a signed body without the field is refused. The field is
/// read only after the signature verifies.
#[test]
fn hmac_body_family_with_a_signed_time_in_the_body_refuses_replays() {
    let linear = Verifier::HmacSha256 {
        header: "linear-signature".into(),
        prefix: String::new(),
        encoding: Encoding::Hex,
        signed_at: Some("/webhookTimestamp".into()),
        tolerance_seconds: 60,
    };
    let body = br#"{"action":"update","type":"Issue","data":{"id":"a"},"webhookTimestamp":1700000000123}"#;
    let secret = "lin_wh_0123456789abcdef";
    let signed = sign(&linear, secret.as_bytes(), "", at(0), body);
    let h = headers(&[(&signed[0].0, &signed[0].1)]);
    let sent = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_000_000).unwrap();
    assert_eq!(
        check(&linear, secret, "https://c/w", &h, body, at(1_700_000_030)),
        Ok(Verified { signed_at: Some(sent) })
    );
    assert_eq!(check(&linear, secret, "https://c/w", &h, body, at(1_700_000_062)), Err(Refusal::Stale));
    assert_eq!(check(&linear, secret, "https://c/w", &h, &flipped(body), at(1_700_000_030)), Err(Refusal::Mismatch));
    // Unsigned junk is refused as a mismatch before any of it is parsed.
    let junk = b"not json at all";
    assert_eq!(check(&linear, secret, "https://c/w", &h, junk, at(1_700_000_030)), Err(Refusal::Mismatch));
    let untimed = br#"{"action":"update"}"#;
    let signed = sign(&linear, secret.as_bytes(), "", at(0), untimed);
    let h = headers(&[(&signed[0].0, &signed[0].1)]);
    assert_eq!(check(&linear, secret, "https://c/w", &h, untimed, at(1_700_000_030)), Err(Refusal::Missing));
}

const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const SLACK_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";

/// H1, H2: Slack's documented example (verifying requests from Slack)
/// verifies within five minutes of its timestamp and is a replay after.
#[test]
fn slack_family_verifies_the_documented_example_and_refuses_replays() {
    let slack = Verifier::Slack { tolerance_seconds: DEFAULT_TOLERANCE_SECONDS };
    let h = headers(&[
        ("x-slack-request-timestamp", "1531420618"),
        ("x-slack-signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"),
    ]);
    let body = SLACK_BODY.as_bytes();
    let verified = check(&slack, SLACK_SECRET, "https://c/w", &h, body, at(1_531_420_618 + 60));
    assert_eq!(verified, Ok(Verified { signed_at: Some(at(1_531_420_618)) }));
    assert_eq!(check(&slack, SLACK_SECRET, "https://c/w", &h, body, at(1_531_420_618 + 301)), Err(Refusal::Stale));
    assert_eq!(check(&slack, SLACK_SECRET, "https://c/w", &h, body, at(1_531_420_618 - 301)), Err(Refusal::Stale));
    let now = at(1_531_420_618);
    assert_eq!(check(&slack, SLACK_SECRET, "https://c/w", &h, &flipped(body), now), Err(Refusal::Mismatch));
    assert_eq!(check(&slack, "8f742231b10e8888abcd99yyyzzz85a6", "https://c/w", &h, body, now), Err(Refusal::Mismatch));
    for name in ["x-slack-request-timestamp", "x-slack-signature"] {
        assert_eq!(check(&slack, SLACK_SECRET, "https://c/w", &without(&h, name), body, now), Err(Refusal::Missing));
    }
    // The timestamp is signed: moving it forward breaks the signature.
    let moved = headers(&[
        ("x-slack-request-timestamp", "1531420619"),
        ("x-slack-signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"),
    ]);
    assert_eq!(check(&slack, SLACK_SECRET, "https://c/w", &moved, body, now), Err(Refusal::Mismatch));
    // What the kit signs as Slack, it verifies.
    let signed = sign(&slack, SLACK_SECRET.as_bytes(), "", now, body);
    let pairs: Vec<(&str, &str)> = signed.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(
        check(&slack, SLACK_SECRET, "https://c/w", &headers(&pairs), body, now),
        verified.map(|_| Verified { signed_at: Some(now) })
    );
}

const SVIX_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn svix_headers(signature: &str) -> HeaderMap {
    headers(&[
        ("svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("svix-timestamp", "1614265330"),
        ("svix-signature", signature),
    ])
}

/// H1, H2: Svix's documented example (verifying payloads manually), as
/// Resend sends it, with a rotation's second signature, and as a replay.
#[test]
fn svix_family_verifies_the_documented_example_and_refuses_replays() {
    let svix = Verifier::Svix { header_prefix: "svix".into(), tolerance_seconds: DEFAULT_TOLERANCE_SECONDS };
    let body = br#"{"test": 2432232314}"#;
    let now = at(1_614_265_330 + 10);
    let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    assert_eq!(
        check(&svix, SVIX_SECRET, "https://c/w", &svix_headers(good), body, now),
        Ok(Verified { signed_at: Some(at(1_614_265_330)) })
    );
    let rotated = format!("v1,Ceil7hRYc7blR0E0H5mtR6qv9kQw2hd/bvpDUXAmWLE= {good}");
    assert!(check(&svix, SVIX_SECRET, "https://c/w", &svix_headers(&rotated), body, now).is_ok());
    assert_eq!(
        check(&svix, SVIX_SECRET, "https://c/w", &svix_headers(good), &flipped(body), now),
        Err(Refusal::Mismatch)
    );
    assert_eq!(
        check(&svix, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx", "https://c/w", &svix_headers(good), body, now),
        Err(Refusal::Mismatch)
    );
    assert_eq!(check(&svix, SVIX_SECRET, "https://c/w", &svix_headers("v2,abc"), body, now), Err(Refusal::Malformed));
    for name in ["svix-id", "svix-timestamp", "svix-signature"] {
        assert_eq!(
            check(&svix, SVIX_SECRET, "https://c/w", &without(&svix_headers(good), name), body, now),
            Err(Refusal::Missing)
        );
    }
    assert_eq!(
        check(&svix, SVIX_SECRET, "https://c/w", &svix_headers(good), body, at(1_614_265_330 + 3600)),
        Err(Refusal::Stale)
    );
    // The id is signed: another delivery's id with this signature fails.
    let mut other = svix_headers(good);
    other.insert("svix-id", "msg_other".parse().unwrap());
    assert_eq!(check(&svix, SVIX_SECRET, "https://c/w", &other, body, now), Err(Refusal::Mismatch));
    // Standard Webhooks' `webhook-*` names, signed by the kit.
    let standard = Verifier::Svix { header_prefix: "webhook".into(), tolerance_seconds: DEFAULT_TOLERANCE_SECONDS };
    let signed = sign(&standard, SVIX_SECRET.as_bytes(), "msg_p5jXN8AQM9LWM0D4loKWxJek", at(1_614_265_330), body);
    assert_eq!(signed[2], ("webhook-signature".to_owned(), good.to_owned()));
    let pairs: Vec<(&str, &str)> = signed.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert!(check(&standard, SVIX_SECRET, "https://c/w", &headers(&pairs), body, now).is_ok());
}

/// H1: Twilio's documented example (webhooks security): the public URL
/// and the form's parameters sorted by name. Another URL, an added
/// parameter or another token fail.
#[test]
fn twilio_family_verifies_the_documented_example_over_url_and_sorted_params() {
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    let body = b"CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212";
    let h = headers(&[("x-twilio-signature", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")]);
    let now = at(1_700_000_000);
    assert!(check(&Verifier::Twilio, "12345", url, &h, body, now).is_ok());
    // The order the form arrives in does not matter; the URL does.
    let reordered =
        b"To=%2B18005551212&Digits=1234&CallSid=CA1234567890ABCDE&From=%2B12349013030&Caller=%2B12349013030";
    assert!(check(&Verifier::Twilio, "12345", url, &h, reordered, now).is_ok());
    assert_eq!(
        check(&Verifier::Twilio, "12345", "http://mycompany.com/myapp.php?foo=1&bar=2", &h, body, now),
        Err(Refusal::Mismatch)
    );
    let added = [body.as_slice(), b"&Extra=1"].concat();
    assert_eq!(check(&Verifier::Twilio, "12345", url, &h, &added, now), Err(Refusal::Mismatch));
    assert_eq!(check(&Verifier::Twilio, "12346", url, &h, body, now), Err(Refusal::Mismatch));
    assert_eq!(check(&Verifier::Twilio, "12345", url, &HeaderMap::new(), body, now), Err(Refusal::Missing));
}

/// H1: Twilio signs the URL with or without its default port, whatever
/// was configured (its own helpers accept both): the documented example
/// verifies with `:443` written out, and a signature over the `:443` form
/// verifies on the plain URL; another port is another URL.
#[test]
fn twilio_family_accepts_the_url_with_or_without_its_default_port() {
    let body = b"CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212";
    let h = headers(&[("x-twilio-signature", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")]);
    let now = at(1_700_000_000);
    let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
    assert!(check(&Verifier::Twilio, "12345", with_port, &h, body, now).is_ok());
    assert_eq!(
        check(&Verifier::Twilio, "12345", "https://mycompany.com:8443/myapp.php?foo=1&bar=2", &h, body, now),
        Err(Refusal::Mismatch)
    );
    let mut mac = <HmacSha1 as hmac::KeyInit>::new_from_slice(b"12345").unwrap();
    mac.update(b"http://c.example:80/w?x=1");
    mac.update(b"MessageSidSM1");
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    let h = headers(&[("x-twilio-signature", signature.as_str())]);
    assert!(check(&Verifier::Twilio, "12345", "http://c.example/w?x=1", &h, b"MessageSid=SM1", now).is_ok());
    assert_eq!(default_port_toggled("https://[::1]:8443/w", &url::Url::parse("https://[::1]:8443/w").unwrap()), None);
    assert_eq!(
        default_port_toggled("https://[::1]/w", &url::Url::parse("https://[::1]/w").unwrap()).as_deref(),
        Some("https://[::1]:443/w")
    );
}

/// H1: a JSON body to Twilio is covered by the signed URL's `bodySHA256`.
#[test]
fn twilio_family_checks_a_json_body_against_the_signed_digest() {
    let body = br#"{"MessageSid":"SM1"}"#;
    let digest = hex::encode(sha2::Sha256::digest(body));
    let url = format!("https://c.example/webhooks/twilio/e1?bodySHA256={digest}");
    let mut mac = <HmacSha1 as hmac::KeyInit>::new_from_slice(b"12345").unwrap();
    mac.update(url.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    let h = headers(&[("x-twilio-signature", &signature)]);
    let now = at(1_700_000_000);
    assert!(check(&Verifier::Twilio, "12345", &url, &h, body, now).is_ok());
    assert_eq!(check(&Verifier::Twilio, "12345", &url, &h, br#"{"MessageSid":"SM2"}"#, now), Err(Refusal::Mismatch));
}

/// An HMAC-SHA256 computed apart from the verifiers, base64.
fn base64_hmac(secret: &str, message: &[u8]) -> String {
    let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// H1, H2: HubSpot's v3 (request validation): method, the URL with its
/// documented escapes decoded, body and millisecond timestamp; older than
/// five minutes is a replay. HubSpot documents no worked v3 example, so
/// the signature is computed here from the documented recipe.
#[test]
fn hubspot_v3_family_signs_method_url_body_and_timestamp() {
    let hubspot = Verifier::HubspotV3 { tolerance_seconds: DEFAULT_TOLERANCE_SECONDS };
    let body = br#"[{"objectId":1246965,"subscriptionType":"contact.propertyChange"}]"#;
    let sent_at_ms = "1700000000000";
    let signed_url = "https://c.example/webhooks/hubspot/e1?portal=62515:1";
    let message = [b"POST".as_slice(), signed_url.as_bytes(), body, sent_at_ms.as_bytes()].concat();
    let h = headers(&[
        ("x-hubspot-signature-v3", &base64_hmac("client-secret", &message)),
        ("x-hubspot-request-timestamp", sent_at_ms),
    ]);
    let called = "https://c.example/webhooks/hubspot/e1?portal=62515%3A1";
    assert_eq!(
        check(&hubspot, "client-secret", called, &h, body, at(1_700_000_100)),
        Ok(Verified { signed_at: Some(at(1_700_000_000)) })
    );
    assert_eq!(check(&hubspot, "client-secret", called, &h, body, at(1_700_000_400)), Err(Refusal::Stale));
    assert_eq!(check(&hubspot, "client-secret", called, &h, &flipped(body), at(1_700_000_100)), Err(Refusal::Mismatch));
    assert_eq!(check(&hubspot, "other", called, &h, body, at(1_700_000_100)), Err(Refusal::Mismatch));
    assert_eq!(
        check(&hubspot, "client-secret", called, &without(&h, "x-hubspot-request-timestamp"), body, at(1_700_000_100)),
        Err(Refusal::Missing)
    );
}

/// H1, H2: Zendesk (verifying webhooks): the timestamp then the body,
/// base64; Zendesk documents no worked example, so it is computed here.
#[test]
fn zendesk_family_signs_timestamp_and_body() {
    let zendesk = Verifier::Zendesk { tolerance_seconds: DEFAULT_TOLERANCE_SECONDS };
    let body = br#"{"type":"zen:event-type:ticket.created","detail":{"id":"35436"}}"#;
    let stamp = "2023-11-14T22:13:20Z";
    let signature = base64_hmac("dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==", &[stamp.as_bytes(), body].concat());
    let h = headers(&[("x-zendesk-webhook-signature", &signature), ("x-zendesk-webhook-signature-timestamp", stamp)]);
    let secret = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==";
    assert!(check(&zendesk, secret, "https://c/w", &h, body, at(1_700_000_000)).is_ok());
    assert_eq!(check(&zendesk, secret, "https://c/w", &h, body, at(1_700_003_600)), Err(Refusal::Stale));
    assert_eq!(check(&zendesk, secret, "https://c/w", &h, &flipped(body), at(1_700_000_000)), Err(Refusal::Mismatch));
    assert_eq!(check(&zendesk, "another", "https://c/w", &h, body, at(1_700_000_000)), Err(Refusal::Mismatch));
    assert_eq!(
        check(&zendesk, secret, "https://c/w", &without(&h, "x-zendesk-webhook-signature"), body, at(1_700_000_000)),
        Err(Refusal::Missing)
    );
}

/// H1: a shared token header (GitLab, Telegram, Google channels) must be
/// the secret exactly.
#[test]
fn shared_token_family_compares_the_whole_token() {
    let gitlab = Verifier::SharedToken { header: "x-gitlab-token".into() };
    let now = at(1_700_000_000);
    let h = headers(&[("x-gitlab-token", "s3cr3t-token")]);
    assert!(check(&gitlab, "s3cr3t-token", "https://c/w", &h, b"{}", now).is_ok());
    for wrong in ["s3cr3t-tokeN", "s3cr3t-toke", "s3cr3t-token2"] {
        assert_eq!(check(&gitlab, wrong, "https://c/w", &h, b"{}", now), Err(Refusal::Mismatch), "{wrong}");
    }
    assert_eq!(check(&gitlab, "s3cr3t-token", "https://c/w", &HeaderMap::new(), b"{}", now), Err(Refusal::Missing));
}

/// H1: Microsoft Graph's notifications each echo the subscription's
/// `clientState` (change notifications via webhooks); one that does not,
/// or a body with none, is refused.
#[test]
fn client_state_family_needs_every_notification_to_echo_the_secret() {
    let now = at(1_700_000_000);
    let none = HeaderMap::new();
    let body = br#"{"value":[{"subscriptionId":"7f105c7d","clientState":"secretClientValue","changeType":"created","resource":"Users/6a7b/Events/AAMk"}]}"#;
    assert!(check(&Verifier::ClientState, "secretClientValue", "https://c/w", &none, body, now).is_ok());
    assert_eq!(
        check(&Verifier::ClientState, "secretClientValuf", "https://c/w", &none, body, now),
        Err(Refusal::Mismatch)
    );
    let mixed = br#"{"value":[{"clientState":"secretClientValue"},{"clientState":"forged"}]}"#;
    assert_eq!(
        check(&Verifier::ClientState, "secretClientValue", "https://c/w", &none, mixed, now),
        Err(Refusal::Mismatch)
    );
    assert_eq!(
        check(&Verifier::ClientState, "secretClientValue", "https://c/w", &none, br#"{"value":[{}]}"#, now),
        Err(Refusal::Missing)
    );
    assert_eq!(
        check(&Verifier::ClientState, "secretClientValue", "https://c/w", &none, b"not json", now),
        Err(Refusal::Malformed)
    );
}

/// An HS256 JWT of `claims`, made apart from the verifier.
fn jwt(secret: &str, header: &serde_json::Value, claims: &serde_json::Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let signing =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signing.as_bytes());
    format!("{signing}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// Atlassian's documented canonical requests (understanding JWT for
/// Connect apps: `GET&/&param=foo`, `POST&/user&`).
#[test]
fn canonical_requests_follow_atlassians_examples() {
    assert_eq!(canonical_request("get", "https://app.example/?param=foo").as_deref(), Some("GET&/&param=foo"));
    assert_eq!(canonical_request("POST", "https://app.example/user/").as_deref(), Some("POST&/user&"));
    assert_eq!(
        canonical_request("GET", "https://app.example/a?b=2&a=x%20y&b=1&jwt=abc").as_deref(),
        Some("GET&/a&a=x%20y&b=1,2")
    );
    assert_eq!(
        canonical_request_hash("GET", "https://app.example/?param=foo").as_deref(),
        Some("557b49d80f3f963f6bec47b74d9832d8d601d6ed0979476bdb35bae4abafb0a4")
    );
}

/// H1, H2: JWT-signed requests (Jira Connect, monday): HS256 with the
/// secret, unexpired, with the request's hash where the family says.
#[test]
fn jwt_family_checks_signature_algorithm_expiry_and_query_hash() {
    let jira = Verifier::Jwt { header: "authorization".into(), scheme: "JWT ".into(), query_hash: true };
    let url = "https://c.example/webhooks/jira/e1?user_id=admin";
    let qsh = canonical_request_hash("POST", url).unwrap();
    let hs256 = serde_json::json!({ "alg": "HS256", "typ": "JWT" });
    let claims = serde_json::json!({ "iss": "jira:1", "iat": 1_700_000_000, "exp": 1_700_000_180, "qsh": qsh });
    let now = at(1_700_000_060);
    let token = format!("JWT {}", jwt("shared", &hs256, &claims));
    let h = headers(&[("authorization", &token)]);
    assert_eq!(check(&jira, "shared", url, &h, b"{}", now), Ok(Verified { signed_at: Some(at(1_700_000_000)) }));
    assert_eq!(check(&jira, "other", url, &h, b"{}", now), Err(Refusal::Mismatch));
    assert_eq!(
        check(&jira, "shared", "https://c.example/webhooks/jira/e1?user_id=root", &h, b"{}", now),
        Err(Refusal::Mismatch)
    );
    assert_eq!(check(&jira, "shared", url, &h, b"{}", at(1_700_001_000)), Err(Refusal::Stale));
    // `alg: none` or another algorithm is refused even when the bytes match.
    let none = serde_json::json!({ "alg": "none" });
    let forged = headers(&[("authorization", &format!("JWT {}", jwt("shared", &none, &claims)))]);
    assert_eq!(check(&jira, "shared", url, &forged, b"{}", now), Err(Refusal::Mismatch));
    assert_eq!(
        check(&jira, "shared", url, &headers(&[("authorization", "Bearer x.y.z")]), b"{}", now),
        Err(Refusal::Malformed)
    );
    assert_eq!(check(&jira, "shared", url, &HeaderMap::new(), b"{}", now), Err(Refusal::Missing));
    // monday: the token bare in Authorization, no query hash.
    let monday = Verifier::Jwt { header: "authorization".into(), scheme: String::new(), query_hash: false };
    let claims = serde_json::json!({ "accountId": 1, "exp": 1_700_000_180 });
    let h = headers(&[("authorization", &jwt("signing", &hs256, &claims))]);
    assert!(check(&monday, "signing", url, &h, b"{}", now).is_ok());
    assert_eq!(check(&monday, "signing2", url, &h, b"{}", now), Err(Refusal::Mismatch));
}

#[test]
fn the_catalog_spells_each_family_as_its_name() {
    let parsed: Verifier = serde_json::from_value(serde_json::json!({
        "family": "hmac_sha256", "header": "x-hub-signature-256", "prefix": "sha256=", "encoding": "hex"
    }))
    .unwrap();
    assert_eq!(parsed, github());
    let svix: Verifier =
        serde_json::from_value(serde_json::json!({ "family": "svix", "header_prefix": "webhook" })).unwrap();
    assert_eq!(svix, Verifier::Svix { header_prefix: "webhook".into(), tolerance_seconds: 300 });
    assert!(serde_json::from_value::<Verifier>(serde_json::json!({ "family": "md5" })).is_err());
}

/// H1: Pipedrive's webhooks carry the HTTP Basic credentials they were
/// made with: the secret as the password, for the named user; another
/// password, another user, or none is refused.
#[test]
fn basic_auth_family_checks_user_and_password() {
    let verifier = Verifier::BasicAuth { user: "patchbay".into() };
    let now = at(1_700_000_000);
    let body = br#"{"meta":{"id":"c0ffee00"}}"#;
    let signed = sign(&verifier, b"s3cret-pass", "d-1", now, body);
    let pairs: Vec<(&str, &str)> = signed.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(pairs, [("authorization", "Basic cGF0Y2hiYXk6czNjcmV0LXBhc3M=")]);
    assert!(check(&verifier, "s3cret-pass", "https://c/w", &headers(&pairs), body, now).is_ok());
    assert_eq!(check(&verifier, "other-pass", "https://c/w", &headers(&pairs), body, now), Err(Refusal::Mismatch));
    let someone_else = headers(&[("authorization", "Basic c29tZW9uZTpzM2NyZXQtcGFzcw==")]);
    assert_eq!(check(&verifier, "s3cret-pass", "https://c/w", &someone_else, body, now), Err(Refusal::Mismatch));
    let bearer = headers(&[("authorization", "Bearer s3cret-pass")]);
    assert_eq!(check(&verifier, "s3cret-pass", "https://c/w", &bearer, body, now), Err(Refusal::Malformed));
    assert_eq!(check(&verifier, "s3cret-pass", "https://c/w", &HeaderMap::new(), body, now), Err(Refusal::Missing));
}
