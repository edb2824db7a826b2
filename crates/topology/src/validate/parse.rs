//! Short forms read into the model: port mappings, mounts and restart policies (pure; the caller reports).

use crate::model::*;
use crate::raw::{RawMount, RawPort};

pub(super) fn parse_port(p: &RawPort) -> Result<Port, String> {
    let proto = |s: Option<&str>| match s.unwrap_or("tcp") {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        o => Err(format!("unknown protocol `{o}` (use tcp or udp)")),
    };
    match p {
        RawPort::Number(n) => Ok(Port { host_ip: None, host: None, container: *n, protocol: Protocol::Tcp }),
        RawPort::Long(l) => Ok(Port {
            host_ip: l.host_ip.clone(),
            host: l.published,
            container: l.target,
            protocol: proto(l.protocol.as_deref())?,
        }),
        RawPort::Short(s) => {
            let (spec, pr) = match s.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (s.as_str(), None),
            };
            let protocol = proto(pr)?;
            let num = |x: &str| -> Result<u16, String> {
                x.parse::<u16>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("`{x}` in port `{s}` is not a port number (1-65535)"))
            };
            let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
            match parts.as_slice() {
                [c] => Ok(Port { host_ip: None, host: None, container: num(c)?, protocol }),
                [c, h] => Ok(Port { host_ip: None, host: Some(num(h)?), container: num(c)?, protocol }),
                [c, h, ip] => Ok(Port {
                    host_ip: Some(ip.trim_matches(['[', ']']).to_string()),
                    host: if h.is_empty() { None } else { Some(num(h)?) },
                    container: num(c)?,
                    protocol,
                }),
                _ => Err(format!("`{s}` is not a port mapping")),
            }
        }
    }
}

pub(super) fn parse_mount(m: &RawMount) -> Result<Mount, String> {
    let is_path = |s: &str| s.starts_with('.') || s.starts_with('/') || s.starts_with('~');
    let (source, target, read_only, options) = match m {
        RawMount::Long(l) => (l.source.clone(), l.target.clone(), l.read_only, Vec::new()),
        RawMount::Short(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            match parts.as_slice() {
                [_] => {
                    return Err(format!(
                        "`{s}` has no source: anonymous volumes are not supported; name the volume, like `data:{s}`"
                    ));
                }
                [src, tgt] => (src.to_string(), tgt.to_string(), false, Vec::new()),
                [src, tgt, opts] => {
                    let mut ro = false;
                    let mut rest = Vec::new();
                    for o in opts.split(',') {
                        match o {
                            "ro" => ro = true,
                            "rw" => {}
                            "cached" | "delegated" | "consistent" | "z" | "Z" | "nocopy" => rest.push(o.to_string()),
                            other => {
                                return Err(format!(
                                    "unknown mount option `{other}` in `{s}` (use ro, rw, cached, delegated, consistent, z, Z, nocopy)"
                                ));
                            }
                        }
                    }
                    (src.to_string(), tgt.to_string(), ro, rest)
                }
                _ => return Err(format!("`{s}` is not a mount")),
            }
        }
    };
    if !target.starts_with('/') {
        return Err(format!("mount target `{target}` must be an absolute path in the container"));
    }
    let source = if is_path(&source) { MountSource::Bind(source) } else { MountSource::Volume(source) };
    Ok(Mount { source, target, read_only, options })
}

pub(super) fn parse_restart(s: &str) -> Result<Restart, String> {
    match s {
        "no" => Ok(Restart::No),
        "always" => Ok(Restart::Always),
        "unless-stopped" => Ok(Restart::UnlessStopped),
        "on-failure" => Ok(Restart::OnFailure(None)),
        other => match other.strip_prefix("on-failure:").map(str::parse::<u32>) {
            Some(Ok(n)) => Ok(Restart::OnFailure(Some(n))),
            _ => Err(format!("unknown restart policy `{other}`")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_print_as_they_parse() {
        for s in ["no", "always", "unless-stopped", "on-failure", "on-failure:3"] {
            assert_eq!(parse_restart(s).map(|r| r.to_string()).as_deref(), Ok(s));
        }
    }
}
