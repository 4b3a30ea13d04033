//! Request paths meshtop builds by hand (kube builds the rest): every segment escaped, so a
//! name can never add a segment, a query or a fragment to the request.

/// `/seg/seg/...` from its segments, each percent-encoded. `.`, `..` and empty segments are
/// refused rather than escaped: HTTP stacks resolve `%2E%2E` as `..`, which would move the
/// request to another object.
pub(crate) fn api_path(segments: &[&str]) -> Result<String, String> {
    let mut path = String::new();
    for segment in segments {
        if matches!(*segment, "" | "." | "..") {
            return Err(format!("{segment:?} cannot be a segment of a request path"));
        }
        path.push('/');
        for byte in segment.bytes() {
            // RFC 3986 `pchar`s that need no escape; `:` too, for the pod proxy's NAME:PORT.
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b':') {
                path.push(char::from(byte));
            } else {
                path.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_segment_is_escaped() {
        assert_eq!(
            api_path(&[
                "api",
                "v1",
                "namespaces",
                "shop",
                "pods",
                "web-1",
                "eviction"
            ]),
            Ok("/api/v1/namespaces/shop/pods/web-1/eviction".into())
        );
        assert_eq!(
            api_path(&["pods", "worker-1/status", "a?b", "a#b", "a%2Fb", "a b", "é"]),
            Ok("/pods/worker-1%2Fstatus/a%3Fb/a%23b/a%252Fb/a%20b/%C3%A9".into())
        );
        assert_eq!(
            api_path(&["pods", "istiod-0:15014", "proxy"]),
            Ok("/pods/istiod-0:15014/proxy".into())
        );
        for bad in ["", ".", ".."] {
            assert!(api_path(&["pods", bad, "eviction"]).is_err(), "{bad:?}");
        }
        assert_eq!(api_path(&["a..b"]), Ok("/a..b".into()));
    }
}
