//! `pull_policy`, as `docker compose up` applies it: `missing` (the default)
//! pulls an image that is not there, `always` pulls it every time, `never`
//! never pulls (a missing image is an error), `build` builds the image of a
//! service with `build:` every time, and `daily`, `weekly` and `every_<d>`
//! pull when the local image was last tagged longer ago than that (or never
//! was: then it is pulled, as Compose reads a missing tag time as the epoch).
//! Services sharing an image share its pull: the most eager policy wins.

use std::time::{Duration, SystemTime};

use bollard::models::ImageInspect;
use deploy_topology::PullPolicy;

use super::plan::PlannedService;

/// What to do about one image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Pull {
    pub always: bool,
    /// Every user says `never`.
    pub never: bool,
    /// Some user says `build`: build it even when it is there.
    pub build: bool,
    /// Pull when the local image was tagged longer ago than this.
    pub refresh: Option<Duration>,
    /// The platform to pull for (the first user's `platform`).
    pub platform: Option<String>,
}

/// The pull of an image its `users` share.
pub(super) fn of(users: &[&PlannedService]) -> Pull {
    let mut out = Pull { never: !users.is_empty(), ..Pull::default() };
    for p in users {
        let policy = p.pull_policy.unwrap_or(PullPolicy::Missing);
        out.never &= policy == PullPolicy::Never;
        out.always |= policy == PullPolicy::Always;
        out.build |= policy == PullPolicy::Build;
        let every = match policy {
            PullPolicy::Daily => Some(Duration::from_secs(24 * 3600)),
            PullPolicy::Weekly => Some(Duration::from_secs(7 * 24 * 3600)),
            PullPolicy::Every(d) => Some(d.get()),
            _ => None,
        };
        if let Some(d) = every {
            out.refresh = Some(out.refresh.map_or(d, |r| r.min(d)));
        }
        if out.platform.is_none() {
            out.platform.clone_from(&p.spec.vocab.platform);
        }
    }
    out
}

impl Pull {
    /// Whether a missing image may be pulled: not under `never`, nor under `build`
    /// (built instead, by the build step when the service has `build:`).
    pub fn pulls_when_missing(&self) -> bool {
        !(self.never || self.build)
    }

    /// What forbids pulling a missing image, as the topology spells it.
    pub fn forbidden_by(&self) -> &'static str {
        if self.never { "`pull_policy: never`" } else { "`pull_policy: build`" }
    }

    /// Whether an image that is present is pulled again.
    pub fn due(&self, image: &ImageInspect, now: SystemTime) -> bool {
        if self.always {
            return true;
        }
        let Some(every) = self.refresh else { return false };
        let tagged = image.metadata.as_ref().and_then(|m| m.last_tag_time.as_deref()).and_then(rfc3339);
        tagged.is_none_or(|t| t + every < now)
    }
}

/// An RFC 3339 time as the Engine writes it (`2024-05-01T10:20:30.123456789Z`,
/// or with a `+02:00` offset); `None` for the zero time or anything else.
fn rfc3339(s: &str) -> Option<SystemTime> {
    let (date, rest) = s.split_once('T')?;
    let mut d = date.splitn(3, '-').map(str::parse::<i64>);
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (clock, offset) = match rest.find(['Z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => return None,
    };
    let clock = clock.split('.').next()?;
    let mut c = clock.splitn(3, ':').map(str::parse::<i64>);
    let (hh, mm, ss) = (c.next()?.ok()?, c.next()?.ok()?, c.next()?.ok()?);
    let offset_secs = match offset.split_at(1) {
        ("Z", _) => 0,
        (sign, hm) => {
            let (h, m) = hm.split_once(':')?;
            let secs = h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60;
            if sign == "-" { -secs } else { secs }
        }
    };
    let secs = days_from_civil(y, m, day) * 86400 + hh * 3600 + mm * 60 + ss - offset_secs;
    u64::try_from(secs).ok().filter(|s| *s > 0).map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn engine_times_parse() {
        assert_eq!(rfc3339("1970-01-02T00:00:00Z"), Some(at(86400)));
        assert_eq!(rfc3339("2024-03-01T12:30:15.123456789Z"), Some(at(1_709_296_215)));
        assert_eq!(rfc3339("2024-03-01T14:30:15+02:00"), Some(at(1_709_296_215)));
        assert_eq!(rfc3339("0001-01-01T00:00:00Z"), None);
        assert_eq!(rfc3339("yesterday"), None);
    }

    #[test]
    fn refresh_is_due_when_the_tag_is_older_than_the_period() {
        let image = |t: Option<&str>| ImageInspect {
            metadata: Some(bollard::models::ImageInspectMetadata { last_tag_time: t.map(String::from) }),
            ..Default::default()
        };
        let daily = Pull { refresh: Some(Duration::from_secs(86400)), ..Pull::default() };
        let now = at(1_709_296_215);
        assert!(!daily.due(&image(Some("2024-03-01T00:00:00Z")), now));
        assert!(daily.due(&image(Some("2024-02-28T00:00:00Z")), now));
        assert!(daily.due(&image(None), now), "never tagged: pulled");
        assert!(!Pull::default().due(&image(None), now), "missing: a present image is not pulled");
        assert!(Pull { always: true, ..Pull::default() }.due(&image(Some("2024-03-01T00:00:00Z")), now));
    }
}
