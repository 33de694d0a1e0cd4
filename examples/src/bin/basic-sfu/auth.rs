//! Who may do what: participant access tokens and per-participant secrets.
//!
//! A join carries an access token: a JWT signed with the server's API secret (HS256) that
//! names the room, the participant's identity and display name, what they may do
//! ([`Grants`]) and when it expires. The application that owns the users mints tokens
//! (`basic-sfu token`, or any JWT library with the same secret). The join answers with a
//! secret of the participant's own (128 bits from the OS), which every later call for that
//! participant must carry; client ids alone are guessable.
//!
//! Without a configured API secret the server runs in *dev mode*: a random secret is made
//! at start and `/api/dev-token` hands tokens to anyone, so the page works on a fresh
//! machine with no set-up. That mode is for a laptop, never for a network.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// How long a minted token is valid by default.
pub(crate) const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(6 * 3600);

/// What a token allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Grants {
    /// May send media (an offer with sending m-lines).
    #[serde(default)]
    pub(crate) publish: bool,
    /// May act on other participants of the room: cap their bandwidth, read the room's
    /// reports.
    #[serde(default)]
    pub(crate) admin: bool,
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// The participant's identity in the application.
    pub(crate) sub: String,
    /// The display name.
    #[serde(default)]
    pub(crate) name: String,
    /// The one room the token is for.
    pub(crate) room: String,
    /// Expiry, seconds since the Unix epoch.
    pub(crate) exp: u64,
    #[serde(default)]
    pub(crate) grants: Grants,
}

/// Why a token or secret was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuthError {
    #[error("this call needs an access token (`token` query parameter or bearer header)")]
    MissingToken,
    #[error("the access token is invalid: {0}")]
    BadToken(#[from] jsonwebtoken::errors::Error),
    #[error("the access token is for room {token:?}, not {asked:?}")]
    WrongRoom { token: String, asked: String },
    #[error("the access token does not grant {0}")]
    NotGranted(&'static str),
    #[error("this call needs the participant's secret (`secret` query parameter or bearer header)")]
    MissingSecret,
    #[error("wrong secret for this participant")]
    WrongSecret,
    #[error("no such client in this room")]
    UnknownParticipant,
    #[error("no such room")]
    UnknownRoom,
}

/// Signs and checks tokens with one API secret.
pub(crate) struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    dev: bool,
}

impl Auth {
    /// Tokens signed with `secret`; `None` starts dev mode with a random one.
    pub(crate) fn new(secret: Option<&str>) -> anyhow::Result<Self> {
        let (bytes, dev) = match secret {
            Some(s) if s.len() >= 16 => (s.as_bytes().to_vec(), false),
            Some(_) => anyhow::bail!("the API secret must be at least 16 bytes"),
            None => (random_secret().into_bytes(), true),
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(Self {
            encoding: EncodingKey::from_secret(&bytes)?,
            decoding: DecodingKey::from_secret(&bytes)?,
            validation,
            dev,
        })
    }

    /// `true` in dev mode: anyone may get a token.
    pub(crate) fn is_dev(&self) -> bool {
        self.dev
    }

    /// A token for `claims`.
    pub(crate) fn mint(&self, claims: &Claims) -> anyhow::Result<String> {
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &self.encoding,
        )?)
    }

    /// The claims of `token`, if it is signed with our secret, unexpired, and for `room`.
    pub(crate) fn verify(&self, token: Option<&str>, room: &str) -> Result<Claims, AuthError> {
        let token = token.ok_or(AuthError::MissingToken)?;
        let claims =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)?.claims;
        if claims.room != room {
            return Err(AuthError::WrongRoom {
                token: claims.room,
                asked: room.to_string(),
            });
        }
        Ok(claims)
    }
}

/// Claims for `identity` in `room`, valid for `ttl` from now.
pub(crate) fn claims(
    room: &str,
    identity: &str,
    name: &str,
    grants: Grants,
    ttl: Duration,
) -> Claims {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Claims {
        sub: identity.to_string(),
        name: name.to_string(),
        room: room.to_string(),
        exp: (now + ttl).as_secs(),
        grants,
    }
}

/// 128 bits from the operating system's generator, hex-encoded.
pub(crate) fn random_secret() -> String {
    let mut bytes = [0u8; 16];
    // The OS generator failing leaves nothing safe to do.
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `presented` equals `expected`, compared in constant time.
pub(crate) fn secret_matches(presented: Option<&str>, expected: &str) -> Result<(), AuthError> {
    let presented = presented.ok_or(AuthError::MissingSecret)?;
    if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(AuthError::WrongSecret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_with_their_secret_room_and_time() {
        let auth = Auth::new(Some("0123456789abcdef-test")).unwrap();
        let grants = Grants {
            publish: true,
            admin: false,
        };
        let token = auth
            .mint(&claims("a", "alice", "Alice", grants, DEFAULT_TOKEN_TTL))
            .unwrap();
        let c = auth.verify(Some(&token), "a").unwrap();
        assert_eq!((c.sub.as_str(), c.grants), ("alice", grants));
        assert!(matches!(
            auth.verify(Some(&token), "b"),
            Err(AuthError::WrongRoom { .. })
        ));
        assert!(matches!(
            auth.verify(None, "a"),
            Err(AuthError::MissingToken)
        ));
        let other = Auth::new(Some("another-secret-of-16")).unwrap();
        assert!(matches!(
            other.verify(Some(&token), "a"),
            Err(AuthError::BadToken(_))
        ));
        let mut expired = claims("a", "alice", "Alice", grants, Duration::ZERO);
        expired.exp -= 3600;
        let old = auth.mint(&expired).unwrap();
        assert!(matches!(
            auth.verify(Some(&old), "a"),
            Err(AuthError::BadToken(_))
        ));
        assert!(Auth::new(Some("short")).is_err());
    }

    #[test]
    fn secrets_are_random_and_compared_whole() {
        let (a, b) = (random_secret(), random_secret());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(secret_matches(Some(&a), &a).is_ok());
        assert!(matches!(
            secret_matches(Some(&b), &a),
            Err(AuthError::WrongSecret)
        ));
        assert!(matches!(
            secret_matches(Some(&a[..31]), &a),
            Err(AuthError::WrongSecret)
        ));
        assert!(matches!(
            secret_matches(None, &a),
            Err(AuthError::MissingSecret)
        ));
    }
}
