//! Kubernetes' rules for names, label keys and label values.

/// A DNS-1123 label: at most 63 lowercase letters, digits and `-`, starting and ending alphanumeric.
pub fn is_dns_label(s: &str) -> bool {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !s.is_empty() && s.len() <= 63 && s.starts_with(ok) && s.ends_with(ok) && s.chars().all(|c| ok(c) || c == '-')
}

/// A label value: empty, or at most 63 letters, digits, `-`, `_` and `.`, starting and ending alphanumeric.
pub fn is_label_value(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    s.is_empty()
        || (s.len() <= 63
            && s.starts_with(alnum)
            && s.ends_with(alnum)
            && s.chars().all(|c| alnum(c) || "-_.".contains(c)))
}

/// A DNS-1123 subdomain (a label key's prefix): dot-separated labels, at most 253 characters.
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// A label or annotation key: `[prefix/]name`, the name a non-empty label value.
pub fn is_qualified_name(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    prefix.is_none_or(is_dns_subdomain) && !name.is_empty() && is_label_value(name)
}

/// Keys Kubernetes or this tool own: `kubernetes.io/`, `k8s.io/` (and their subdomains),
/// `app.kubernetes.io/` (the selector and recommended labels) and `deploy.dev/`.
pub fn reserved_label(key: &str) -> bool {
    let Some((prefix, _)) = key.split_once('/') else { return false };
    ["kubernetes.io", "k8s.io", "deploy.dev"].iter().any(|r| prefix == *r || prefix.ends_with(&format!(".{r}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_naming_rules() {
        assert!(is_dns_label("api-2") && !is_dns_label("Api") && !is_dns_label("a.b") && !is_dns_label("-a"));
        assert!(is_label_value("") && is_label_value("web.v1_2") && !is_label_value("a b") && !is_label_value("x-"));
        assert!(!is_label_value(&"a".repeat(64)));
        assert!(is_qualified_name("com.example.team") && is_qualified_name("example.com/team"));
        assert!(!is_qualified_name("Example.com/team") && !is_qualified_name("a/b/c") && !is_qualified_name(""));
        assert!(reserved_label("app.kubernetes.io/name") && reserved_label("deploy.dev/x"));
        assert!(
            reserved_label("node.k8s.io/x") && !reserved_label("com.example.team") && !reserved_label("example.com/a")
        );
    }
}
