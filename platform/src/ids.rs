//! Every id the platform passes around, as a type that can only hold a
//! valid value. Signatures take these, not `&str`, so a provider id cannot
//! be handed where a team id belongs, and nothing that reaches SQL, a
//! secret path or a URL carries a metacharacter.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn new() -> Self {
                Self(uuid::Uuid::new_v4().to_string())
            }

            /// Accepts only the canonical UUID form, so an ID can never carry
            /// path or SQL metacharacters.
            pub fn parse(s: &str) -> Result<Self> {
                uuid::Uuid::parse_str(s)
                    .ok()
                    .filter(|u| u.hyphenated().to_string() == s)
                    .map(|_| Self(s.to_owned()))
                    .ok_or(Error::NotFound)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

uuid_id!(
    /// A team: the tenant everything else belongs to.
    TeamId
);
uuid_id!(
    /// A person in a team.
    UserId
);
uuid_id!(
    /// An invite link's row (never its token).
    InviteId
);
uuid_id!(
    /// A team's connection to one provider.
    InstallationId
);

/// A provider's id: lower-case letters, digits and `-`, at most 40, as in
/// its file name, its secret paths and its URLs.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProviderId(String);

impl ProviderId {
    /// The id as the environment's setting names spell it
    /// (`PATCHBAY_<THIS>_CLIENT_ID`, `_WEBHOOK_SECRET`): in capitals, `-` as `_`.
    pub fn env_name(&self) -> String {
        self.as_str().to_ascii_uppercase().replace('-', "_")
    }

    /// An id from a request (a path segment, a form): one that is not in
    /// the id's form names no provider, so it is "not found".
    pub fn parse(s: &str) -> Result<Self> {
        Self::checked(s).map_err(|_| Error::NotFound)
    }

    /// An id from a provider file, with the words that say what is wrong.
    fn checked(s: &str) -> std::result::Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= 40
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok { Ok(Self(s.to_owned())) } else { Err(format!("`{s}` is not an id: use a-z, 0-9 and `-`, at most 40")) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProviderId {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        Self::checked(&s)
    }
}

impl From<ProviderId> for String {
    fn from(id: ProviderId) -> String {
        id.0
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A queued job. New ids are 128 random bits as 32 lower-case hex digits;
/// any id of hex digits and `-` (a UUID written by hand or by an older
/// tool) is read, since none can carry a path or SQL metacharacter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

impl JobId {
    pub fn new() -> Self {
        Self(crate::util::random_id())
    }

    /// Accepts lower-case hex digits and `-`, at most 64.
    pub fn parse(s: &str) -> Result<Self> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'-');
        if ok { Ok(Self(s.to_owned())) } else { Err(Error::NotFound) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl TryFrom<String> for JobId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s)
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> String {
        id.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_only_canonical_uuids() {
        let id = TeamId::new();
        assert_eq!(TeamId::parse(id.as_str()).unwrap(), id);
        for bad in ["", "../etc", "not-a-uuid", &id.as_str().to_uppercase()] {
            assert!(TeamId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn provider_and_job_ids_accept_only_their_own_form() {
        assert!(ProviderId::parse("linear").is_ok());
        for bad in ["", "-linear", "linear-", "Linear", "lin/ear", "lin ear", &"a".repeat(41)] {
            assert!(ProviderId::parse(bad).is_err(), "{bad:?}");
        }
        let job = JobId::new();
        assert_eq!(JobId::parse(job.as_str()).unwrap(), job);
        assert!(JobId::parse("../etc").is_err());
        assert!(JobId::parse(&job.as_str().to_uppercase()).is_err());
    }
}
