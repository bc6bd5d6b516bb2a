//! Just enough of the consumer protocol's Subscription (the JoinGroup metadata of
//! protocol type "consumer") for the coordinator to know which topics a group reads:
//! `version i16, topics [string]`, then fields the coordinator does not need.

/// The subscribed topics, or none if the metadata does not parse (never panics, never
/// allocates from an unchecked count).
pub fn subscription_topics(metadata: &[u8]) -> Vec<String> {
    let mut r = metadata;
    let mut take = |n: usize| -> Option<&[u8]> {
        if r.len() < n {
            return None;
        }
        let (a, b) = r.split_at(n);
        r = b;
        Some(a)
    };
    let mut out = Vec::new();
    let mut parse = || -> Option<()> {
        take(2)?;
        let count = i32::from_be_bytes(take(4)?.try_into().ok()?);
        for _ in 0..count.max(0) {
            let len = i16::from_be_bytes(take(2)?.try_into().ok()?);
            let name = take(len.max(0) as usize)?;
            out.push(String::from_utf8_lossy(name).into_owned());
        }
        Some(())
    };
    let _ = parse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_tolerates_garbage() {
        let mut m = vec![0, 1, 0, 0, 0, 2, 0, 1, b'a', 0, 2, b'b', b'c'];
        m.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]); // user data etc.
        assert_eq!(subscription_topics(&m), vec!["a", "bc"]);
        assert_eq!(
            subscription_topics(&[0, 1, 0x7f, 0xff, 0xff, 0xff]),
            Vec::<String>::new()
        );
        assert!(subscription_topics(&[1]).is_empty());
    }
}
