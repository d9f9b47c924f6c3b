//! The words of team onboarding, as types that can only hold valid values:
//! IDs, names, emails, passwords and roles. Each `parse` says, in words a
//! person can act on, what is wrong with a value and which field it was.

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

fn invalid(field: &'static str, message: impl Into<String>) -> Error {
    Error::Invalid { field: field.into(), message: message.into() }
}

/// Trims and bounds a free-text field such as a name.
fn parse_text(field: &'static str, label: &str, value: &str, max_chars: usize) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(field, format!("Enter {label}.")));
    }
    if value.chars().count() > max_chars {
        return Err(invalid(field, format!("{} must be at most {max_chars} characters.", capitalise(label))));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, format!("{} must not contain control characters.", capitalise(label))));
    }
    Ok(value.to_owned())
}

fn capitalise(label: &str) -> String {
    let label = label.trim_start_matches("a ").trim_start_matches("an ").trim_start_matches("your ");
    let mut chars = label.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

pub const NAME_MAX_CHARS: usize = 80;

/// A team's display name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamName(String);

impl TeamName {
    pub fn parse(value: &str) -> Result<Self> {
        parse_text("team_name", "a team name", value, NAME_MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's display name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(value: &str) -> Result<Self> {
        parse_text("name", "your name", value, NAME_MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address, trimmed and lower-cased. The check is deliberately
/// simple (one `@`, a dotted domain, no spaces): the address is a sign-in
/// name here, not a mailbox we deliver to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

pub const EMAIL_MAX_CHARS: usize = 254;

impl Email {
    pub fn parse(value: &str) -> Result<Self> {
        let value = value.trim().to_lowercase();
        if value.is_empty() {
            return Err(invalid("email", "Enter an email address."));
        }
        if value.chars().count() > EMAIL_MAX_CHARS {
            return Err(invalid("email", format!("Email must be at most {EMAIL_MAX_CHARS} characters.")));
        }
        let well_formed = match value.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
                    && !value.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            None => false,
        };
        if !well_formed {
            return Err(invalid("email", "Enter an email address like name@example.com."));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_CHARS: usize = 128;

/// A new password that meets the policy. It never prints.
#[derive(Debug)]
pub struct NewPassword(SecretString);

impl NewPassword {
    pub fn parse(value: &str) -> Result<Self> {
        let chars = value.chars().count();
        if chars < PASSWORD_MIN_CHARS {
            return Err(invalid(
                "password",
                format!(
                    "Use at least {PASSWORD_MIN_CHARS} characters for your password; a few unrelated words work well."
                ),
            ));
        }
        if chars > PASSWORD_MAX_CHARS {
            return Err(invalid("password", format!("Password must be at most {PASSWORD_MAX_CHARS} characters.")));
        }
        if value.chars().collect::<std::collections::HashSet<_>>().len() < 4 {
            return Err(invalid("password", "That password is too easy to guess; use a mix of different characters."));
        }
        Ok(Self(SecretString::from(value)))
    }

    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// What a user may do in their team.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(value: &str) -> Result<Self> {
        match value {
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            _ => Err(invalid("role", "Choose admin or member.")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(e: Error) -> (String, String) {
        match e {
            Error::Invalid { field, message } => (field.into_owned(), message),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn emails_are_normalised_and_malformed_ones_refused_with_an_example() {
        assert_eq!(Email::parse("  Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
        for bad in ["", "ada", "ada@", "@example.com", "ada@example", "a b@example.com", "ada@@example.com", "ada@.com"]
        {
            let (field, _) = message(Email::parse(bad).unwrap_err());
            assert_eq!(field, "email", "{bad}");
        }
        let (_, text) = message(Email::parse(&format!("{}@example.com", "a".repeat(250))).unwrap_err());
        assert!(text.contains("at most 254"), "{text}");
    }

    #[test]
    fn weak_passwords_are_refused_saying_what_is_required() {
        let (field, text) = message(NewPassword::parse("short").unwrap_err());
        assert_eq!(field, "password");
        assert!(text.contains("at least 12 characters"), "{text}");
        assert!(NewPassword::parse("aaaaaaaaaaaaaaa").is_err());
        assert!(NewPassword::parse(&"x1y2".repeat(40)).is_err());
        assert!(NewPassword::parse("correct horse battery").is_ok());
    }

    #[test]
    fn passwords_never_print() {
        let p = NewPassword::parse("canary-password-123").unwrap();
        assert!(!format!("{p:?}").contains("canary"));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(TeamName::parse("  Acme ").unwrap().as_str(), "Acme");
        let (field, text) = message(TeamName::parse(&"x".repeat(81)).unwrap_err());
        assert_eq!((field.as_str(), text.as_str()), ("team_name", "Team name must be at most 80 characters."));
        let (field, text) = message(PersonName::parse("   ").unwrap_err());
        assert_eq!((field.as_str(), text.as_str()), ("name", "Enter your name."));
    }
}
