//! Rate limits per client IP address (every request) and per principal (authenticated requests),
//! with `governor`'s keyed GCRA limiters; an exceeded limit is a 429 with `Retry-After`.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::RateLimits;
use crate::{Error, Result};

pub(crate) struct Limits {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_principal: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

fn quota(per_second: u32, burst: u32) -> Quota {
    let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(per_second).allow_burst(burst)
}

impl Limits {
    pub(crate) fn new(config: &RateLimits) -> Limits {
        Limits {
            per_ip: RateLimiter::keyed(quota(config.per_ip_per_second, config.per_ip_burst)),
            per_principal: RateLimiter::keyed(quota(
                config.per_principal_per_second,
                config.per_principal_burst,
            )),
            clock: DefaultClock::default(),
        }
    }

    pub(crate) fn check_ip(&self, ip: IpAddr) -> Result<()> {
        self.check(&self.per_ip, &ip)
    }

    pub(crate) fn check_principal(&self, subject: &str) -> Result<()> {
        // `check_key` takes the key by reference but stores an owned copy on first use.
        self.check(&self.per_principal, &subject.to_owned())
    }

    fn check<K: Hash + Eq + Clone>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
    ) -> Result<()> {
        match limiter.check_key(key) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                // Retry-After is whole seconds; round up so an immediate retry is not refused again.
                let retry_after_secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                crate::metrics::rate_limited();
                Err(Error::RateLimited {
                    retry_after_secs: retry_after_secs.max(1),
                })
            }
        }
    }

    /// Forgets idle keys, so the limiters' memory stays bounded by recently active clients.
    pub(crate) fn retain_recent(&self) {
        self.per_ip.retain_recent();
        self.per_principal.retain_recent();
    }
}
