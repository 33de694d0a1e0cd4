//! Helpers for tests and benchmarks of code built on the registry.

/// A well-formed STUN binding request (RFC 8489) with USERNAME `"{ours}:{theirs}"`, a
/// PRIORITY and a MESSAGE-INTEGRITY attribute whose HMAC is zeros: it routes like a peer's
/// first connectivity check, and the client's ICE agent rejects it as unauthenticated.
pub fn stun_binding_request(ours: &str, theirs: &str) -> Vec<u8> {
    let username = format!("{ours}:{theirs}");
    let mut attrs = Vec::new();
    push_attr(&mut attrs, 0x0006, username.as_bytes());
    push_attr(&mut attrs, 0x0024, &[0x6e, 0x7f, 0x1e, 0xff]);
    push_attr(&mut attrs, 0x0008, &[0; 20]);
    let mut msg = Vec::with_capacity(20 + attrs.len());
    msg.extend_from_slice(&[0x00, 0x01]);
    msg.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    msg.extend_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
    msg.extend_from_slice(&[0x5a; 12]);
    msg.extend_from_slice(&attrs);
    msg
}

/// A STUN binding request with USERNAME `"{ours}:{theirs}"` signed with `password`, as a
/// peer's connectivity check to a client whose ICE password is `password`.
pub fn signed_stun_binding_request(ours: &str, theirs: &str, password: &str) -> Vec<u8> {
    use str0m::ice::{StunMessage, TransId};
    let username = format!("{ours}:{theirs}");
    let msg = StunMessage::binding_request(&username, TransId::new(), true, 7, 0x6e7f_1eff, false);
    let mut buf = vec![0u8; 512];
    let provider = str0m::crypto::from_feature_flags();
    let len = msg
        .to_bytes(Some(password.as_bytes()), &mut buf, |k, p| {
            provider.sha1_hmac_provider.sha1_hmac(k, p)
        })
        .expect("a binding request fits 512 bytes");
    buf.truncate(len);
    buf
}

fn push_attr(out: &mut Vec<u8>, typ: u16, value: &[u8]) {
    out.extend_from_slice(&typ.to_be_bytes());
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use str0m::ice::StunMessage;

    #[test]
    fn crafted_request_parses_with_its_username() {
        let msg = stun_binding_request("abcd", "wxyz");
        let parsed = StunMessage::parse(&msg).expect("valid STUN");
        assert_eq!(parsed.split_username(), Some(("abcd", "wxyz")));
    }
}
