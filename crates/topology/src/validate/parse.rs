//! Short and long forms read into the model: port mappings, mounts and restart
//! policies (pure; the caller reports). Text written with `${VAR}` is read
//! here once resolved, by the model's `Port::resolve` / `Mount::resolve`.

use crate::interp;
use crate::model::*;
use crate::raw::{RawMountLong, RawPortLong};
use crate::units::ByteSize;

/// `text` split at `sep`, except inside `${...}` (a default may hold `:`).
pub(crate) fn split_outside_braces(text: &str, sep: char) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0usize, 0usize);
    let bytes: Vec<(usize, char)> = text.char_indices().collect();
    for (n, &(i, c)) in bytes.iter().enumerate() {
        match c {
            '{' if n > 0 && bytes[n - 1].1 == '$' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            c if c == sep && depth == 0 => {
                out.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

/// The text a template gives with every variable unset (defaults applied, the rest empty);
/// `None` when it needs a variable (`${VAR:?...}`) and so cannot be known before apply.
pub(crate) fn with_defaults(template: &str) -> Option<String> {
    interp::resolve(template, &|_| None).ok()
}

/// A short-form port written with variables, read with their defaults: a part that needs a
/// variable is unknown until apply (a host IP or port is then left out; a container port must be known).
pub(crate) fn port_template(s: &str) -> Result<Port, String> {
    let known = |part: &str| if part.contains('$') { with_defaults(part) } else { Some(part.to_string()) };
    let parts = split_outside_braces(s, ':');
    let (last, rest) = parts.split_last().ok_or_else(|| format!("`{s}` is not a port mapping"))?;
    let last = known(last).ok_or_else(|| {
        format!("the container port of `{s}` needs a variable: give it a default, like `${{PORT:-80}}`")
    })?;
    let mut text: Vec<String> = rest.iter().map(|p| known(p).unwrap_or_default()).collect();
    text.push(last);
    port_text(&text.join(":"))
}

fn protocol(s: Option<&str>) -> Result<Protocol, String> {
    match s.unwrap_or("tcp") {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        o => Err(format!("unknown protocol `{o}` (use tcp or udp)")),
    }
}

fn port_number(x: &str, whole: &str) -> Result<u16, String> {
    x.parse::<u16>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{x}` in port `{whole}` is not a port number (1-65535)"))
}

/// A port: the host part may be empty (Docker picks one).
fn plain_port(host_ip: Option<String>, host: Option<u16>, container: u16, protocol: Protocol) -> Port {
    Port { host_ip, host, container, protocol, name: None, mode: None, app_protocol: None, template: None }
}

/// The short form's parts: host IP (`[::1]` or `1.2.3.4`), host part, container part, protocol.
fn port_parts(s: &str) -> Result<(Option<String>, &str, &str, Protocol), String> {
    let (spec, proto) = match s.rsplit_once('/') {
        Some((a, b)) => (a, protocol(Some(b))?),
        None => (s, Protocol::Tcp),
    };
    if let Some(rest) = spec.strip_prefix('[') {
        let (ip, rest) = rest.split_once(']').ok_or_else(|| format!("`{s}`: unclosed `[` around the host IP"))?;
        let rest = rest.strip_prefix(':').ok_or_else(|| format!("`{s}` is not a port mapping"))?;
        let (host, container) = rest.split_once(':').ok_or_else(|| format!("`{s}` is not a port mapping"))?;
        return Ok((Some(ip.to_string()), host, container, proto));
    }
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    match parts.as_slice() {
        [c] => Ok((None, "", c, proto)),
        [c, h] => Ok((None, h, c, proto)),
        [c, h, ip] => Ok((Some(ip.to_string()), h, c, proto)),
        _ => Err(format!("`{s}` is not a port mapping")),
    }
}

/// One port in the short form, `[IP:][HOST:]CONTAINER[/PROTOCOL]` (no ranges).
pub(crate) fn port_text(s: &str) -> Result<Port, String> {
    let (ip, host, container, proto) = port_parts(s)?;
    let host = if host.is_empty() { None } else { Some(port_number(host, s)?) };
    Ok(plain_port(ip, host, port_number(container, s)?, proto))
}

/// `A-B` as the ports from A to B, or one port.
fn port_range(x: &str, whole: &str) -> Result<Vec<u16>, String> {
    match x.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (port_number(a, whole)?, port_number(b, whole)?);
            if a > b {
                return Err(format!("the range `{x}` in port `{whole}` goes backwards"));
            }
            Ok((a..=b).collect())
        }
        None => Ok(vec![port_number(x, whole)?]),
    }
}

/// The short form, ranges included (`8000-8002:8000-8002` is three ports, as Compose reads it).
pub(crate) fn port_texts(s: &str) -> Result<Vec<Port>, String> {
    let (ip, host, container, proto) = port_parts(s)?;
    let containers = port_range(container, s)?;
    if host.is_empty() {
        return Ok(containers.into_iter().map(|c| plain_port(ip.clone(), None, c, proto)).collect());
    }
    let hosts = port_range(host, s)?;
    if hosts.len() != containers.len() {
        return Err(format!("`{s}` maps {} host ports to {} container ports", hosts.len(), containers.len()));
    }
    Ok(hosts.into_iter().zip(containers).map(|(h, c)| plain_port(ip.clone(), Some(h), c, proto)).collect())
}

/// The long form's `published` (as text): a port number, or empty for none.
pub(crate) fn published(s: &str) -> Result<Option<u16>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    if s.contains('-') {
        return Err(format!("`{s}`: a range of host ports is only read in the short form (`\"8000-8001:8000-8001\"`)"));
    }
    port_number(s, s).map(Some)
}

/// The long form, with `published` already read.
pub(super) fn port_long(l: &RawPortLong, host: Option<u16>) -> Result<Port, String> {
    if l.target == 0 {
        return Err("`target` must be a port number (1-65535)".into());
    }
    if let Some(m) = &l.mode
        && m != "ingress"
        && m != "host"
    {
        return Err(format!("unknown port mode `{m}` (use ingress or host)"));
    }
    Ok(Port {
        name: l.name.clone(),
        mode: l.mode.clone(),
        app_protocol: l.app_protocol.clone(),
        ..plain_port(l.host_ip.clone(), host, l.target, protocol(l.protocol.as_deref())?)
    })
}

/// A mount source: a host path (`.`, `/` or `~` first) is a bind mount, anything else a volume key.
pub(crate) fn mount_source(s: &str) -> Result<MountSource, String> {
    let is_path = s.starts_with('.') || s.starts_with('/') || s.starts_with('~');
    match s {
        "" => Err("the mount has an empty source".into()),
        _ if is_path => Ok(MountSource::Bind(s.to_string())),
        _ => Ok(MountSource::Volume(s.to_string())),
    }
}

fn mount(source: MountSource, target: String) -> Mount {
    Mount {
        source,
        target,
        read_only: false,
        options: Vec::new(),
        long_form: false,
        bind: None,
        volume: None,
        tmpfs: None,
        consistency: None,
        source_template: None,
    }
}

const SHORT_OPTIONS: &[&str] = &[
    "ro",
    "rw",
    "cached",
    "delegated",
    "consistent",
    "z",
    "Z",
    "nocopy",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "private",
    "rprivate",
];

/// The short form: `SOURCE:TARGET[:OPTIONS]`, or `TARGET` alone (an anonymous volume).
/// `source` is the source as its defaults give it when it uses `${VAR}`.
pub(super) fn mount_short(s: &str) -> Result<(Mount, Option<String>), String> {
    let parts = split_outside_braces(s, ':');
    let (src, target, opts) = match parts.as_slice() {
        [t] => (None, *t, None),
        [src, t] => (Some(*src), *t, None),
        [src, t, o] => (Some(*src), *t, Some(*o)),
        _ => return Err(format!("`{s}` is not a mount (write SOURCE:TARGET[:OPTIONS])")),
    };
    let written = src.filter(|x| x.contains('$')).map(str::to_string);
    let source = match src {
        None => MountSource::Anonymous,
        Some(x) if x.contains('$') => mount_source(&with_defaults(x).unwrap_or_else(|| x.to_string()))?,
        Some(x) => mount_source(x)?,
    };
    let mut m = mount(source, target.to_string());
    for o in opts.into_iter().flat_map(|o| o.split(',')) {
        match o {
            "ro" => m.read_only = true,
            "rw" => {}
            o if SHORT_OPTIONS.contains(&o) => m.options.push(o.to_string()),
            other => {
                return Err(format!("unknown mount option `{other}` in `{s}` (use {})", SHORT_OPTIONS.join(", ")));
            }
        }
    }
    if let MountSource::Bind(_) = m.source {
        let pick = |set: &[&str]| m.options.iter().find(|o| set.contains(&o.as_str())).cloned();
        let (selinux, propagation) = (pick(&["z", "Z"]), pick(&SHORT_OPTIONS[8..]));
        m.bind = Some(BindOptions { create_host_path: true, selinux, propagation });
    }
    check_target(&m.target)?;
    Ok((m, written))
}

fn check_target(target: &str) -> Result<(), String> {
    if target.starts_with('/') {
        Ok(())
    } else {
        Err(format!("mount target `{target}` must be an absolute path in the container"))
    }
}

/// The long form: `{type, source, target, read_only, bind, volume, tmpfs, consistency}`.
pub(super) fn mount_long(l: &RawMountLong) -> Result<(Mount, Option<String>), String> {
    let src = l.source.as_deref().filter(|s| !s.is_empty());
    let written = src.filter(|x| x.contains('$')).map(str::to_string);
    let resolved =
        src.map(|x| if x.contains('$') { with_defaults(x).unwrap_or_else(|| x.to_string()) } else { x.to_string() });
    let source = match (l.typ.as_deref(), resolved) {
        (Some("tmpfs"), None) => MountSource::Tmpfs,
        (Some("tmpfs"), Some(_)) => return Err("a tmpfs mount has no `source`".into()),
        (Some("bind"), Some(s)) => MountSource::Bind(s),
        (Some("bind"), None) => return Err("a bind mount needs a `source` (a host path)".into()),
        (Some("volume"), Some(s)) => MountSource::Volume(s),
        (Some("volume") | None, None) => MountSource::Anonymous,
        (None, Some(s)) => mount_source(&s)?,
        (Some(other), _) => return Err(format!("unknown mount type `{other}` (use volume, bind or tmpfs)")),
    };
    let kind = match source {
        MountSource::Bind(_) => "bind",
        MountSource::Tmpfs => "tmpfs",
        _ => "volume",
    };
    for (given, name) in [(l.bind.is_some(), "bind"), (l.volume.is_some(), "volume"), (l.tmpfs.is_some(), "tmpfs")] {
        if given && name != kind {
            return Err(format!("`{name}` options on a {kind} mount (use `type: {name}`, or drop them)"));
        }
    }
    let mut m = mount(source, l.target.clone());
    m.long_form = true;
    m.read_only = l.read_only;
    m.consistency = l.consistency.clone();
    m.bind = l.bind.as_ref().map(|b| BindOptions {
        propagation: b.propagation.clone(),
        create_host_path: b.create_host_path.unwrap_or(false),
        selinux: b.selinux.clone(),
    });
    m.volume =
        l.volume.as_ref().map(|v| VolumeOptions { nocopy: v.nocopy.unwrap_or(false), subpath: v.subpath.clone() });
    m.tmpfs = match &l.tmpfs {
        Some(t) => Some(TmpfsOptions { size: t.size, mode: t.mode.clone().map(tmpfs_mode).transpose()? }),
        None => None,
    };
    check_target(&m.target)?;
    Ok((m, written))
}

/// A file mode: octal as Compose writes it (`0440`, `"0440"`, `0o440`, `1777`), or a decimal number
/// read as YAML 1.2 reads it (`288`).
pub(crate) fn octal(v: crate::raw::Scalar) -> Result<u32, String> {
    let text = v.into_string();
    let digits = text.strip_prefix("0o").unwrap_or(&text);
    u32::from_str_radix(digits, 8).map_err(|_| format!("`{text}` is not a file mode (write it in octal, like 0440)"))
}

/// A tmpfs mount's `mode`: a number, kept as written (Compose hands it on as it reads it).
fn tmpfs_mode(v: crate::raw::Scalar) -> Result<u32, String> {
    match v {
        crate::raw::Scalar::Int(n) => u32::try_from(n).map_err(|_| format!("`{n}` is not a file mode")),
        other => Err(format!("`{}` is not a file mode: write a number, like 1777", other.into_string())),
    }
}

/// A `tmpfs` entry: `PATH[:OPTIONS]`, the `size=` option parsed.
pub(crate) fn tmpfs(s: &str) -> Result<Tmpfs, String> {
    let (target, opts) = s.split_once(':').unwrap_or((s, ""));
    check_target(target)?;
    let options: Vec<String> = opts.split(',').filter(|o| !o.is_empty()).map(str::to_string).collect();
    let size = match options.iter().find_map(|o| o.strip_prefix("size=")) {
        Some(x) => Some(x.parse::<ByteSize>()?),
        None => None,
    };
    Ok(Tmpfs { target: target.to_string(), options, size })
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_print_as_they_parse() {
        for s in ["no", "always", "unless-stopped", "on-failure", "on-failure:3"] {
            assert_eq!(parse_restart(s).map(|r| r.to_string()).as_deref(), Ok(s));
        }
    }

    #[test]
    fn splits_outside_interpolations() {
        assert_eq!(split_outside_braces("${A:-./x}:/data:ro", ':'), ["${A:-./x}", "/data", "ro"]);
        assert_eq!(split_outside_braces("${IP:-127.0.0.1}:${P:-80}:80", ':'), ["${IP:-127.0.0.1}", "${P:-80}", "80"]);
        assert_eq!(split_outside_braces("a:{b:c}", ':'), ["a", "{b", "c}"]);
    }

    #[test]
    fn port_short_forms() {
        let p = port_text("127.0.0.1::5000").unwrap();
        assert_eq!((p.host_ip.as_deref(), p.host, p.container), (Some("127.0.0.1"), None, 5000));
        let p = port_text("[::1]:8080:80/udp").unwrap();
        assert_eq!(
            (p.host_ip.as_deref(), p.host, p.container, p.protocol),
            (Some("::1"), Some(8080), 80, Protocol::Udp)
        );
        assert_eq!(
            port_texts("9000-9002:9000-9002").unwrap().iter().map(|p| p.host).collect::<Vec<_>>(),
            [Some(9000), Some(9001), Some(9002)]
        );
        assert!(port_texts("9000-9001:80").unwrap_err().contains("2 host ports to 1"));
        assert!(port_text("80:http").unwrap_err().contains("not a port number"));
        assert!(port_text("80/sctp").unwrap_err().contains("unknown protocol"));
    }

    #[test]
    fn mount_short_forms() {
        let (m, t) = mount_short("/project/node_modules").unwrap();
        assert_eq!((m.source, t), (MountSource::Anonymous, None));
        let (m, t) = mount_short("${DATA:-./data}:/data:ro,z").unwrap();
        assert_eq!(m.source, MountSource::Bind("./data".into()));
        assert_eq!(t.as_deref(), Some("${DATA:-./data}"));
        assert!(m.read_only);
        assert_eq!(m.bind.and_then(|b| b.selinux).as_deref(), Some("z"));
        assert!(mount_short("data:/d:bogus").unwrap_err().contains("unknown mount option"));
        assert!(mount_short("data:relative").unwrap_err().contains("absolute"));
    }

    #[test]
    fn file_modes_are_octal() {
        use crate::raw::Scalar;
        assert_eq!(octal(Scalar::String("0440".into())), Ok(0o440));
        assert_eq!(octal(Scalar::Int(440)), Ok(0o440));
        assert_eq!(octal(Scalar::String("0o1777".into())), Ok(0o1777));
        assert!(octal(Scalar::String("0999".into())).is_err());
    }

    #[test]
    fn tmpfs_entries() {
        let t = tmpfs("/run:size=64m,mode=1777").unwrap();
        assert_eq!((t.target.as_str(), t.size), ("/run", Some(ByteSize(64 << 20))));
        assert_eq!(t.short(), "/run:size=64m,mode=1777");
        assert!(tmpfs("run").is_err());
    }
}
