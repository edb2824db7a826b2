//! Topology keys as Kubernetes object names.

/// The Kubernetes spelling of a volume or network key (`redis_data` → `redis-data`):
/// keys may use `_` and capitals, object names may not. Validation rejects keys
/// whose spelling here would not be a DNS-1123 label.
pub fn k8s_name(key: &str) -> String {
    key.replace('_', "-").to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn underscores_become_dashes_and_capitals_lower_case() {
        assert_eq!(k8s_name("redis_data"), "redis-data");
        assert_eq!(k8s_name("Learn_Greek-net"), "learn-greek-net");
        assert_eq!(k8s_name("plain"), "plain");
    }

    /// Validation checks keys against this same spelling: what it accepts is a valid name here.
    #[test]
    fn keys_validation_accepts_are_dns_labels() {
        let ok = "name: x\nservices:\n  a:\n    image: i\n    volumes: [Redis_Data:/d]\nvolumes:\n  Redis_Data: {}\n";
        let t = deploy_topology::from_str("x.yaml", ok, None).unwrap_or_else(|e| panic!("{}", e.render()));
        for key in t.volumes.keys() {
            let name = k8s_name(key);
            assert_eq!(name, "redis-data");
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        }
        let bad = "name: x\nservices:\n  a:\n    image: i\n    volumes: [data.v:/d]\nvolumes:\n  data.v: {}\n";
        assert!(deploy_topology::from_str("x.yaml", bad, None).is_err());
    }
}
