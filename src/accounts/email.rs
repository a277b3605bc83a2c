//! Email addresses as keys: trimmed and lower-cased, so `Ann@Example.com ` and
//! `ann@example.com` are one account. Checked only for shape: whether mail arrives is a
//! question for a confirmation mail, which Hoist does not send yet.

use super::AccountError;

/// RFC 5321's limit on a forward path.
const MAX_CHARS: usize = 254;

pub fn normalize_email(text: &str) -> Result<String, AccountError> {
    let email = text.trim().to_lowercase();
    let (local, domain) = email.split_once('@').ok_or(AccountError::BadEmail)?;
    let shaped = !local.is_empty()
        && local.len() <= 64
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.chars().count() <= MAX_CHARS
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ','));
    if shaped {
        Ok(email)
    } else {
        Err(AccountError::BadEmail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_one_key_whatever_their_case_and_spaces() {
        assert_eq!(
            normalize_email("  Ann.Lee@Example.COM ").unwrap(),
            "ann.lee@example.com"
        );
    }

    #[test]
    fn text_that_is_not_an_address_is_refused() {
        for bad in [
            "",
            "ann",
            "@example.com",
            "ann@",
            "ann@example",
            "ann@@example.com",
            "ann lee@example.com",
            "ann@example.com.",
            "<ann@example.com>",
            &format!("{}@example.com", "a".repeat(65)),
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
    }
}
