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
