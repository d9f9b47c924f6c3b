//! One verifier per signature family (SECURITY H1, H2; CONNECTOR-RULES
//! 40). Each checks a delivery's raw bytes with the connection's secret,
//! in constant time, before anything reads the body as data. The catalog
//! names a provider's family and its headers (`[webhooks.verify]`).

use base64::{Engine as _, engine::general_purpose::STANDARD};
use hmac::Mac as _;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use time::OffsetDateTime;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;
type HmacSha1 = hmac::Hmac<sha1::Sha1>;

/// Five minutes: the window Slack, Svix, HubSpot and Zendesk document.
pub const DEFAULT_TOLERANCE_SECONDS: u32 = 300;

fn default_tolerance() -> u32 {
    DEFAULT_TOLERANCE_SECONDS
}

fn is_default_tolerance(seconds: &u32) -> bool {
    *seconds == DEFAULT_TOLERANCE_SECONDS
}

/// How a signature is written out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Hex,
    Base64,
}

/// How a provider signs its deliveries.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "family", rename_all = "snake_case", deny_unknown_fields)]
pub enum Verifier {
    /// HMAC-SHA256 of the raw body in `header`, after `prefix`: GitHub
    /// (`X-Hub-Signature-256: sha256=<hex>`), Linear (`Linear-Signature`),
    /// Attio, Asana (`X-Hook-Signature`).
    ///
    /// With `signed_at`, the body's field at that JSON pointer holds when
    /// the delivery was sent, in Unix milliseconds (Linear's
    /// `webhookTimestamp`), and one sent outside `tolerance_seconds` is a
    /// replay. It is read only once the signature has verified.
    HmacSha256 {
        header: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        prefix: String,
        encoding: Encoding,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signed_at: Option<String>,
        #[serde(default = "default_tolerance", skip_serializing_if = "is_default_tolerance")]
        tolerance_seconds: u32,
    },
    /// Slack's `v0`: `X-Slack-Signature: v0=<hex>` over `v0:{ts}:{body}`,
    /// with `X-Slack-Request-Timestamp` in seconds.
    Slack {
        #[serde(default = "default_tolerance", skip_serializing_if = "is_default_tolerance")]
        tolerance_seconds: u32,
    },
    /// Svix and Standard Webhooks (Resend, the sandbox): `{p}-id`,
    /// `{p}-timestamp` (seconds) and `{p}-signature` (`v1,<base64>`,
    /// several space-separated during a rotation) over `{id}.{ts}.{body}`,
    /// keyed by the base64 after the secret's `whsec_`. `p` is `svix` or
    /// `webhook`.
    Svix {
        header_prefix: String,
        #[serde(default = "default_tolerance", skip_serializing_if = "is_default_tolerance")]
        tolerance_seconds: u32,
    },
    /// HubSpot's v3: `X-HubSpot-Signature-v3`, base64 HMAC-SHA256 over
    /// method, URL, body and `X-HubSpot-Request-Timestamp` (milliseconds).
    HubspotV3 {
        #[serde(default = "default_tolerance", skip_serializing_if = "is_default_tolerance")]
        tolerance_seconds: u32,
    },
    /// Zendesk: `X-Zendesk-Webhook-Signature`, base64 HMAC-SHA256 over
    /// `X-Zendesk-Webhook-Signature-Timestamp` (RFC 3339) and the body.
    Zendesk {
        #[serde(default = "default_tolerance", skip_serializing_if = "is_default_tolerance")]
        tolerance_seconds: u32,
    },
    /// Twilio: `X-Twilio-Signature`, base64 HMAC-SHA1 over the public URL
    /// the provider called and the form's parameters sorted by name, each
    /// name followed by its value; a JSON body is covered instead by the
    /// URL's `bodySHA256` parameter.
    Twilio,
    /// A secret the provider sends back as it was given, in `header`
    /// (GitLab `X-Gitlab-Token`, Telegram
    /// `X-Telegram-Bot-Api-Secret-Token`, Google `X-Goog-Channel-Token`).
    SharedToken { header: String },
    /// HTTP Basic credentials the provider was given for its calls, the
    /// secret as the password (Pipedrive's webhooks, whose only check is
    /// the `http_auth_user` and `http_auth_password` they were made with).
    BasicAuth { user: String },
    /// Microsoft Graph: every notification of the body echoes the
    /// subscription's `clientState`.
    ClientState,
    /// A JWT signed HS256 with the secret, in `header` after `scheme`
    /// (Jira Connect `Authorization: JWT …`, monday `Authorization: …`),
    /// unexpired; with `query_hash`, its `qsh` claim must be the SHA-256
    /// of the canonical request (Atlassian Connect).
    Jwt {
        #[serde(default = "authorization")]
        header: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        scheme: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        query_hash: bool,
    },
}

fn authorization() -> String {
    "authorization".into()
}

/// A delivery as it arrived, before anything reads its body as data.
#[derive(Clone, Copy, Debug)]
pub struct Inbound<'a> {
    pub method: &'a str,
    /// The public URL the provider called, query included: Twilio and
    /// HubSpot sign it, and behind a proxy it is not the one the server
    /// sees.
    pub url: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Why a delivery was refused: for the refusal counter and the
/// rate-limited log line only, never for the caller (SECURITY H3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A header the family needs is not there.
    Missing,
    /// There, but not in the family's shape.
    Malformed,
    /// Well formed, and wrong.
    Mismatch,
    /// Signed outside the tolerance window: a replay (H2).
    Stale,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Malformed => "malformed",
            Refusal::Mismatch => "mismatch",
            Refusal::Stale => "stale",
        }
    }
}

/// What a verified delivery proved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    /// When the provider signed it, for families that sign a time.
    pub signed_at: Option<OffsetDateTime>,
}

impl Verifier {
    /// Checks `inbound` with `secret` at `now`.
    pub fn verify(&self, secret: &[u8], inbound: &Inbound<'_>, now: OffsetDateTime) -> Result<Verified, Refusal> {
        let unsigned_time = Verified { signed_at: None };
        match self {
            Verifier::HmacSha256 { header, prefix, encoding, signed_at, tolerance_seconds } => {
                let given = header_value(inbound.headers, header)?;
                let given = given.strip_prefix(prefix.as_str()).ok_or(Refusal::Malformed)?;
                let given = decode(*encoding, given.trim())?;
                hmac_sha256(secret, &[inbound.body]).verify_slice(&given).map_err(|_| Refusal::Mismatch)?;
                let Some(pointer) = signed_at else { return Ok(unsigned_time) };
                // Signed, so the provider wrote it: now it may be read.
                let body: serde_json::Value = serde_json::from_slice(inbound.body).map_err(|_| Refusal::Malformed)?;
                let millis = body.pointer(pointer).and_then(serde_json::Value::as_i64).ok_or(Refusal::Missing)?;
                let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
                    .map_err(|_| Refusal::Malformed)?;
                Ok(Verified { signed_at: Some(within(at, now, *tolerance_seconds)?) })
            }
            Verifier::Slack { tolerance_seconds } => {
                let timestamp = header_value(inbound.headers, "x-slack-request-timestamp")?;
                let signed_at = within(seconds(timestamp)?, now, *tolerance_seconds)?;
                let given = header_value(inbound.headers, "x-slack-signature")?;
                let given = decode(Encoding::Hex, given.strip_prefix("v0=").ok_or(Refusal::Malformed)?)?;
                hmac_sha256(secret, &[b"v0:", timestamp.as_bytes(), b":", inbound.body])
                    .verify_slice(&given)
                    .map_err(|_| Refusal::Mismatch)?;
                Ok(Verified { signed_at: Some(signed_at) })
            }
            Verifier::Svix { header_prefix, tolerance_seconds } => {
                let id = header_value(inbound.headers, &format!("{header_prefix}-id"))?;
                let timestamp = header_value(inbound.headers, &format!("{header_prefix}-timestamp"))?;
                let signatures = header_value(inbound.headers, &format!("{header_prefix}-signature"))?;
                let signed_at = within(seconds(timestamp)?, now, *tolerance_seconds)?;
                let key = svix_key(secret)?;
                let mac = hmac_sha256(&key, &[id.as_bytes(), b".", timestamp.as_bytes(), b".", inbound.body]);
                // Any one of the listed `v1` signatures will do (a rotation
                // lists the old secret's and the new one's).
                let mut well_formed = false;
                for signature in signatures.split(' ').filter(|s| !s.is_empty()) {
                    let Some(encoded) = signature.strip_prefix("v1,") else { continue };
                    let Ok(given) = STANDARD.decode(encoded) else { continue };
                    well_formed = true;
                    if mac.clone().verify_slice(&given).is_ok() {
                        return Ok(Verified { signed_at: Some(signed_at) });
                    }
                }
                Err(if well_formed { Refusal::Mismatch } else { Refusal::Malformed })
            }
            Verifier::HubspotV3 { tolerance_seconds } => {
                let timestamp = header_value(inbound.headers, "x-hubspot-request-timestamp")?;
                let millis: i64 = timestamp.parse().map_err(|_| Refusal::Malformed)?;
                let signed_at = within(
                    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
                        .map_err(|_| Refusal::Malformed)?,
                    now,
                    *tolerance_seconds,
                )?;
                let given = decode(Encoding::Base64, header_value(inbound.headers, "x-hubspot-signature-v3")?)?;
                let url = hubspot_uri(inbound.url);
                hmac_sha256(secret, &[inbound.method.as_bytes(), url.as_bytes(), inbound.body, timestamp.as_bytes()])
                    .verify_slice(&given)
                    .map_err(|_| Refusal::Mismatch)?;
                Ok(Verified { signed_at: Some(signed_at) })
            }
            Verifier::Zendesk { tolerance_seconds } => {
                let timestamp = header_value(inbound.headers, "x-zendesk-webhook-signature-timestamp")?;
                let at = OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| Refusal::Malformed)?;
                let signed_at = within(at, now, *tolerance_seconds)?;
                let given = decode(Encoding::Base64, header_value(inbound.headers, "x-zendesk-webhook-signature")?)?;
                hmac_sha256(secret, &[timestamp.as_bytes(), inbound.body])
                    .verify_slice(&given)
                    .map_err(|_| Refusal::Mismatch)?;
                Ok(Verified { signed_at: Some(signed_at) })
            }
            Verifier::Twilio => {
                let given = decode(Encoding::Base64, header_value(inbound.headers, "x-twilio-signature")?)?;
                let url = url::Url::parse(inbound.url).map_err(|_| Refusal::Malformed)?;
                let body_digest = url.query_pairs().find(|(name, _)| name == "bodySHA256").map(|(_, v)| v.into_owned());
                let params = if body_digest.is_none() { twilio_params(inbound.body) } else { Vec::new() };
                // Twilio signs the URL with or without its default port,
                // not always as it was configured: either form verifies.
                let urls = [Some(inbound.url.to_owned()), default_port_toggled(inbound.url, &url)];
                let verifies = |text: &String| {
                    twilio_mac(secret, text, &params).is_some_and(|mac| mac.verify_slice(&given).is_ok())
                };
                if !urls.iter().flatten().any(verifies) {
                    return Err(Refusal::Mismatch);
                }
                if let Some(expected) = body_digest {
                    // The URL is signed, so its digest is the provider's:
                    // the body must be the one it digested.
                    let actual = hex::encode(sha2::Sha256::digest(inbound.body));
                    if !constant_time_eq(actual.as_bytes(), expected.to_ascii_lowercase().as_bytes()) {
                        return Err(Refusal::Mismatch);
                    }
                }
                Ok(unsigned_time)
            }
            Verifier::SharedToken { header } => {
                let given = header_value(inbound.headers, header)?;
                if constant_time_eq(given.as_bytes(), secret) { Ok(unsigned_time) } else { Err(Refusal::Mismatch) }
            }
            Verifier::BasicAuth { user } => {
                let given = header_value(inbound.headers, "authorization")?;
                let encoded = given.strip_prefix("Basic ").ok_or(Refusal::Malformed)?;
                let decoded = STANDARD.decode(encoded.trim()).map_err(|_| Refusal::Malformed)?;
                let expected = [user.as_bytes(), b":", secret].concat();
                if constant_time_eq(&decoded, &expected) { Ok(unsigned_time) } else { Err(Refusal::Mismatch) }
            }
            Verifier::ClientState => {
                // Graph's token is inside the body, so this family reads
                // it, as JSON and for that field only, before the delivery
                // counts as verified.
                let body: serde_json::Value = serde_json::from_slice(inbound.body).map_err(|_| Refusal::Malformed)?;
                let values = body.get("value").and_then(|v| v.as_array()).ok_or(Refusal::Malformed)?;
                if values.is_empty() {
                    return Err(Refusal::Malformed);
                }
                for value in values {
                    let state = value.get("clientState").and_then(|s| s.as_str()).ok_or(Refusal::Missing)?;
                    if !constant_time_eq(state.as_bytes(), secret) {
                        return Err(Refusal::Mismatch);
                    }
                }
                Ok(unsigned_time)
            }
            Verifier::Jwt { header, scheme, query_hash } => {
                let given = header_value(inbound.headers, header)?;
                let token = given.strip_prefix(scheme.as_str()).ok_or(Refusal::Malformed)?.trim();
                let claims = jwt_hs256(token, secret)?;
                let now_s = now.unix_timestamp();
                if let Some(exp) = claims.get("exp").and_then(|v| v.as_i64())
                    && now_s > exp + 30
                {
                    return Err(Refusal::Stale);
                }
                if *query_hash {
                    let qsh = claims.get("qsh").and_then(|v| v.as_str()).ok_or(Refusal::Missing)?;
                    let expected = canonical_request_hash(inbound.method, inbound.url).ok_or(Refusal::Malformed)?;
                    if !constant_time_eq(qsh.as_bytes(), expected.as_bytes()) {
                        return Err(Refusal::Mismatch);
                    }
                }
                let signed_at = claims
                    .get("iat")
                    .and_then(|v| v.as_i64())
                    .and_then(|iat| OffsetDateTime::from_unix_timestamp(iat).ok());
                Ok(Verified { signed_at })
            }
        }
    }

    /// The headers this family reads, for the catalog's validator and
    /// the provider page.
    pub fn headers(&self) -> Vec<String> {
        match self {
            Verifier::HmacSha256 { header, .. } | Verifier::SharedToken { header } | Verifier::Jwt { header, .. } => {
                vec![header.clone()]
            }
            Verifier::Slack { .. } => vec!["x-slack-signature".into(), "x-slack-request-timestamp".into()],
            Verifier::Svix { header_prefix, .. } => {
                ["id", "timestamp", "signature"].iter().map(|part| format!("{header_prefix}-{part}")).collect()
            }
            Verifier::HubspotV3 { .. } => {
                vec!["x-hubspot-signature-v3".into(), "x-hubspot-request-timestamp".into()]
            }
            Verifier::Zendesk { .. } => {
                vec!["x-zendesk-webhook-signature".into(), "x-zendesk-webhook-signature-timestamp".into()]
            }
            Verifier::Twilio => vec!["x-twilio-signature".into()],
            Verifier::BasicAuth { .. } => vec!["authorization".into()],
            Verifier::ClientState => Vec::new(),
        }
    }

    /// The header that names each delivery, where the family has one of
    /// its own (Svix's id is also what it signs).
    pub fn delivery_header(&self) -> Option<String> {
        match self {
            Verifier::Svix { header_prefix, .. } => Some(format!("{header_prefix}-id")),
            _ => None,
        }
    }
}

fn header_value<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, Refusal> {
    let value = headers.get(name).ok_or(Refusal::Missing)?;
    value.to_str().map_err(|_| Refusal::Malformed)
}

fn decode(encoding: Encoding, text: &str) -> Result<Vec<u8>, Refusal> {
    match encoding {
        Encoding::Hex => hex::decode(text).map_err(|_| Refusal::Malformed),
        Encoding::Base64 => STANDARD.decode(text).map_err(|_| Refusal::Malformed),
    }
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC takes a key of any length.
    let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for part in parts {
        mac.update(part);
    }
    mac
}

fn seconds(text: &str) -> Result<OffsetDateTime, Refusal> {
    let seconds: i64 = text.trim().parse().map_err(|_| Refusal::Malformed)?;
    OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| Refusal::Malformed)
}

/// `at`, when it is within `tolerance` seconds of `now` either way.
fn within(at: OffsetDateTime, now: OffsetDateTime, tolerance: u32) -> Result<OffsetDateTime, Refusal> {
    if (now - at).whole_seconds().abs() > i64::from(tolerance) { Err(Refusal::Stale) } else { Ok(at) }
}

/// Svix's key: the base64 after `whsec_`; a secret without the prefix is
/// used as it is.
fn svix_key(secret: &[u8]) -> Result<Vec<u8>, Refusal> {
    match secret.strip_prefix(b"whsec_") {
        Some(encoded) => STANDARD.decode(encoded).map_err(|_| Refusal::Mismatch),
        None => Ok(secret.to_vec()),
    }
}

/// The URL as HubSpot signs it: percent-escapes of the characters it
/// documents (`:/?@!$'(),*=&` and space) decoded.
fn hubspot_uri(url: &str) -> String {
    const DECODED: &[(&str, &str)] = &[
        ("%3A", ":"),
        ("%2F", "/"),
        ("%3F", "?"),
        ("%40", "@"),
        ("%21", "!"),
        ("%24", "$"),
        ("%27", "'"),
        ("%28", "("),
        ("%29", ")"),
        ("%2A", "*"),
        ("%2C", ","),
        ("%3B", ";"),
        ("%20", " "),
    ];
    let mut out = url.to_owned();
    for (escaped, plain) in DECODED {
        out = out.replace(escaped, plain).replace(&escaped.to_ascii_lowercase(), plain);
    }
    out
}

/// Equality that takes as long whatever the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // The length is not secret: every provider's tokens have one length.
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The claims of an HS256 JWT whose signature `secret` makes.
fn jwt_hs256(token: &str, secret: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, Refusal> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Malformed);
    };
    let given = URL_SAFE_NO_PAD.decode(signature).map_err(|_| Refusal::Malformed)?;
    // The signature is checked before the header or claims are read.
    hmac_sha256(secret, &[header.as_bytes(), b".", payload.as_bytes()])
        .verify_slice(&given)
        .map_err(|_| Refusal::Mismatch)?;
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).map_err(|_| Refusal::Malformed)?)
            .map_err(|_| Refusal::Malformed)?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(Refusal::Mismatch);
    }
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).map_err(|_| Refusal::Malformed)?)
            .map_err(|_| Refusal::Malformed)?;
    match claims {
        serde_json::Value::Object(map) => Ok(map),
        _ => Err(Refusal::Malformed),
    }
}

/// Atlassian Connect's query string hash: the SHA-256 (hex) of the
/// canonical request.
fn canonical_request_hash(method: &str, url: &str) -> Option<String> {
    Some(hex::encode(sha2::Sha256::digest(canonical_request(method, url)?.as_bytes())))
}

/// Atlassian Connect's canonical request: `METHOD&path&query`, the
/// query's parameters sorted, `jwt` left out, names and values
/// percent-encoded, and repeated values joined by `,`.
fn canonical_request(method: &str, url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let mut params: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for (name, value) in url.query_pairs() {
        if name != "jwt" {
            params.entry(encode_component(&name)).or_default().push(encode_component(&value));
        }
    }
    let query: Vec<String> = params
        .into_iter()
        .map(|(name, mut values)| {
            values.sort();
            format!("{name}={}", values.join(","))
        })
        .collect();
    let path = url.path().trim_end_matches('/');
    let path = if path.is_empty() { "/" } else { path };
    Some(format!("{}&{}&{}", method.to_ascii_uppercase(), path.replace('&', "%26"), query.join("&")))
}

/// RFC 3986 unreserved characters kept, everything else `%XX`.
fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Signs as a provider of `verifier`'s family would: for the sandbox's
/// deliveries and the tests' forged and genuine ones. Returns the headers
/// to send with `body`.
pub fn sign(
    verifier: &Verifier,
    secret: &[u8],
    delivery_id: &str,
    at: OffsetDateTime,
    body: &[u8],
) -> Vec<(String, String)> {
    match verifier {
        Verifier::HmacSha256 { header, prefix, encoding, .. } => {
            let mac = hmac_sha256(secret, &[body]).finalize().into_bytes();
            let encoded = match encoding {
                Encoding::Hex => hex::encode(mac),
                Encoding::Base64 => STANDARD.encode(mac),
            };
            vec![(header.clone(), format!("{prefix}{encoded}"))]
        }
        Verifier::Svix { header_prefix, .. } => {
            let timestamp = at.unix_timestamp().to_string();
            let key = svix_key(secret).unwrap_or_default();
            let mac = hmac_sha256(&key, &[delivery_id.as_bytes(), b".", timestamp.as_bytes(), b".", body])
                .finalize()
                .into_bytes();
            vec![
                (format!("{header_prefix}-id"), delivery_id.to_owned()),
                (format!("{header_prefix}-timestamp"), timestamp),
                (format!("{header_prefix}-signature"), format!("v1,{}", STANDARD.encode(mac))),
            ]
        }
        Verifier::Slack { .. } => {
            let timestamp = at.unix_timestamp().to_string();
            let mac = hmac_sha256(secret, &[b"v0:", timestamp.as_bytes(), b":", body]).finalize().into_bytes();
            vec![
                ("x-slack-request-timestamp".into(), timestamp),
                ("x-slack-signature".into(), format!("v0={}", hex::encode(mac))),
            ]
        }
        Verifier::SharedToken { header } => vec![(header.clone(), String::from_utf8_lossy(secret).into_owned())],
        Verifier::BasicAuth { user } => {
            vec![(
                "authorization".into(),
                format!("Basic {}", STANDARD.encode([user.as_bytes(), b":", secret].concat())),
            )]
        }
        // The other families are only verified here, never sent.
        _ => Vec::new(),
    }
}

/// A form's parameters as Twilio signs them: sorted by name (then
/// value), each name followed by its value.
fn twilio_params(form: &[u8]) -> Vec<u8> {
    let mut sorted: Vec<(String, String)> =
        url::form_urlencoded::parse(form).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    sorted.sort();
    sorted.into_iter().flat_map(|(name, value)| [name.into_bytes(), value.into_bytes()]).flatten().collect()
}

fn twilio_mac(secret: &[u8], url: &str, params: &[u8]) -> Option<HmacSha1> {
    let mut mac = <HmacSha1 as hmac::KeyInit>::new_from_slice(secret).ok()?;
    mac.update(url.as_bytes());
    mac.update(params);
    Some(mac)
}

/// `X-Twilio-Signature` as Twilio computes it for a form POST to `url`
/// (the public URL, query included): for the tests' genuine and forged
/// callbacks.
pub fn twilio_signature(secret: &[u8], url: &str, form: &[u8]) -> String {
    use base64::Engine as _;
    twilio_mac(secret, url, &twilio_params(form))
        .map(|mac| base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
        .unwrap_or_default()
}

/// `text` with its scheme's default port written out, or taken out where
/// it is written (`https://x.example/h` ⇄ `https://x.example:443/h`);
/// `None` for a URL on another port.
fn default_port_toggled(text: &str, url: &url::Url) -> Option<String> {
    let port = match url.scheme() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let start = text.find("://")? + 3;
    let end = text[start..].find(['/', '?', '#']).map_or(text.len(), |at| start + at);
    let authority = &text[start..end];
    let suffix = format!(":{port}");
    let toggled = match authority.strip_suffix(&suffix) {
        Some(host) => host.to_owned(),
        None if authority.rsplit(']').next().is_some_and(|host| host.contains(':')) => return None,
        None => format!("{authority}{suffix}"),
    };
    Some(format!("{}{toggled}{}", &text[..start], &text[end..]))
}

#[cfg(test)]
mod tests;
