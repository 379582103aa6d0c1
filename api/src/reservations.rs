//! Cart reservations with a time limit, chosen by URL: `memory://` (in-process, the embedded
//! default) or `redis://` (shared by every API process).
//!
//! An exclusive lead is held by one agent at a time (`SET hold:<id> <agent> NX PX <ttl>` in Redis);
//! a shared lead may sit in many carts. Each agent's cart is a sorted set of lead ids scored by
//! expiry time. Expired entries vanish by themselves: Redis expires the hold, and every cart read
//! drops entries past their time. Re-reserving what one already holds does not extend it, so a
//! lead cannot be hoarded by reserving it again and again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use crate::{Error, Result};

/// The result of a reservation attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reserve {
    /// The lead is in the caller's cart for this long.
    Reserved { time_left: Duration },
    /// Another agent holds this exclusive lead for this long.
    HeldByOther { time_left: Duration },
}

pub enum Reservations {
    Memory(MemoryReservations),
    Redis(RedisReservations),
}

impl Reservations {
    pub fn open(url: &str, key_prefix: &str) -> Result<Reservations> {
        if url.starts_with("memory://") {
            Ok(Reservations::Memory(MemoryReservations::default()))
        } else if url.starts_with("redis://") || url.starts_with("rediss://") {
            let client = redis::Client::open(url)
                .map_err(|e| Error::Config(format!("reservations_url `{url}`: {e}")))?;
            Ok(Reservations::Redis(RedisReservations {
                client,
                connection: OnceCell::new(),
                prefix: key_prefix.to_owned(),
            }))
        } else {
            Err(Error::Config(format!(
                "reservations_url `{url}` must start with memory:// or redis://"
            )))
        }
    }

    pub async fn reserve(
        &self,
        agent: &str,
        property_id: i64,
        exclusive: bool,
        ttl: Duration,
    ) -> Result<Reserve> {
        match self {
            Reservations::Memory(m) => Ok(m.reserve(agent, property_id, exclusive, ttl)),
            Reservations::Redis(r) => r.reserve(agent, property_id, exclusive, ttl).await,
        }
    }

    /// The caller's cart: lead ids with their time left, soonest to expire first.
    pub async fn cart(&self, agent: &str) -> Result<Vec<(i64, Duration)>> {
        match self {
            Reservations::Memory(m) => Ok(m.cart(agent)),
            Reservations::Redis(r) => r.cart(agent).await,
        }
    }

    /// The time left on the caller's reservation of a lead; `None` when it has none (or, for an
    /// exclusive lead, when the hold is no longer theirs).
    pub async fn time_left(
        &self,
        agent: &str,
        property_id: i64,
        exclusive: bool,
    ) -> Result<Option<Duration>> {
        match self {
            Reservations::Memory(m) => Ok(m.time_left(agent, property_id, exclusive)),
            Reservations::Redis(r) => r.time_left(agent, property_id, exclusive).await,
        }
    }

    /// Removes a lead from the caller's cart (and frees the hold if it is theirs).
    pub async fn release(&self, agent: &str, property_id: i64) -> Result<bool> {
        match self {
            Reservations::Memory(m) => Ok(m.release(agent, property_id)),
            Reservations::Redis(r) => r.release(agent, property_id).await,
        }
    }

    pub async fn ping(&self) -> Result<()> {
        match self {
            Reservations::Memory(_) => Ok(()),
            Reservations::Redis(r) => r.ping().await,
        }
    }
}

/// In-process reservations: a holder per exclusive lead and a cart per agent, each entry with its
/// deadline; expired entries are dropped whenever they are looked at.
#[derive(Default)]
pub struct MemoryReservations {
    inner: Mutex<MemoryState>,
}

#[derive(Default)]
struct MemoryState {
    holds: HashMap<i64, (String, Instant)>,
    carts: HashMap<String, HashMap<i64, Instant>>,
}

impl MemoryReservations {
    fn state(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn reserve(&self, agent: &str, property_id: i64, exclusive: bool, ttl: Duration) -> Reserve {
        let now = Instant::now();
        let mut state = self.state();
        let MemoryState { holds, carts } = &mut *state;
        if exclusive
            && let Some((holder, until)) = holds.get(&property_id)
            && *until > now
            && holder != agent
        {
            return Reserve::HeldByOther {
                time_left: *until - now,
            };
        }
        let cart = carts.entry(agent.to_owned()).or_default();
        cart.retain(|_, until| *until > now);
        let until = *cart.entry(property_id).or_insert(now + ttl);
        if exclusive {
            holds.insert(property_id, (agent.to_owned(), until));
        }
        // Forget long-expired holds now and then, so the map stays bounded.
        if holds.len() > 4096 {
            holds.retain(|_, (_, until)| *until > now);
        }
        Reserve::Reserved {
            time_left: until - now,
        }
    }

    fn cart(&self, agent: &str) -> Vec<(i64, Duration)> {
        let now = Instant::now();
        let mut state = self.state();
        let Some(cart) = state.carts.get_mut(agent) else {
            return Vec::new();
        };
        cart.retain(|_, until| *until > now);
        let mut items: Vec<(i64, Duration)> =
            cart.iter().map(|(id, until)| (*id, *until - now)).collect();
        items.sort_by_key(|(id, left)| (*left, *id));
        items
    }

    fn time_left(&self, agent: &str, property_id: i64, exclusive: bool) -> Option<Duration> {
        let now = Instant::now();
        let state = self.state();
        let until = *state.carts.get(agent)?.get(&property_id)?;
        if until <= now {
            return None;
        }
        if exclusive {
            let (holder, hold_until) = state.holds.get(&property_id)?;
            if holder != agent || *hold_until <= now {
                return None;
            }
        }
        Some(until - now)
    }

    fn release(&self, agent: &str, property_id: i64) -> bool {
        let now = Instant::now();
        let mut state = self.state();
        if state
            .holds
            .get(&property_id)
            .is_some_and(|(holder, _)| holder == agent)
        {
            state.holds.remove(&property_id);
        }
        state
            .carts
            .get_mut(agent)
            .and_then(|cart| cart.remove(&property_id))
            .is_some_and(|until| until > now)
    }
}

/// Reservations in Redis; each operation is one Lua script, so it is atomic. Time is the Redis
/// server's, so API processes with skewed clocks agree.
pub struct RedisReservations {
    client: redis::Client,
    /// Connected on first use (and reconnected by the manager), so the API starts, and recovers,
    /// while Redis is down.
    connection: OnceCell<ConnectionManager>,
    prefix: String,
}

const NOW_MS: &str = "local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
";

const RESERVE: &str = "
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if ARGV[4] == '1' then
  if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ttl) then
    if redis.call('GET', KEYS[1]) ~= ARGV[1] then
      return {0, redis.call('PTTL', KEYS[1])}
    end
    local left = redis.call('PTTL', KEYS[1])
    redis.call('ZADD', KEYS[2], now + left, ARGV[2])
    return {1, left}
  end
else
  local existing = redis.call('ZSCORE', KEYS[2], ARGV[2])
  if existing then return {1, tonumber(existing) - now} end
end
redis.call('ZADD', KEYS[2], now + ttl, ARGV[2])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return {1, ttl}
";

const CART: &str = "
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local items = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #items, 2 do
  out[#out + 1] = items[i]
  out[#out + 1] = tonumber(items[i + 1]) - now
end
return out
";

const TIME_LEFT: &str = "
local score = redis.call('ZSCORE', KEYS[2], ARGV[2])
if not score or tonumber(score) <= now then return -1 end
if ARGV[3] == '1' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
return tonumber(score) - now
";

const RELEASE: &str = "
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
local score = redis.call('ZSCORE', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
if score and tonumber(score) > now then return 1 end
return 0
";

fn script(body: &str) -> Script {
    Script::new(&format!("{NOW_MS}{body}"))
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl RedisReservations {
    async fn connection(&self) -> Result<ConnectionManager> {
        let connection = self
            .connection
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Duration::from_secs(1))
                    .set_response_timeout(Duration::from_secs(1))
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await?;
        Ok(connection.clone())
    }

    fn hold_key(&self, property_id: i64) -> String {
        format!("{}hold:{:016x}", self.prefix, property_id as u64)
    }

    fn cart_key(&self, agent: &str) -> String {
        format!("{}cart:{agent}", self.prefix)
    }

    async fn reserve(
        &self,
        agent: &str,
        property_id: i64,
        exclusive: bool,
        ttl: Duration,
    ) -> Result<Reserve> {
        let mut connection = self.connection().await?;
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        let (reserved, left): (i64, i64) = script(RESERVE)
            .key(self.hold_key(property_id))
            .key(self.cart_key(agent))
            .arg(agent)
            .arg(property_id)
            .arg(ttl_ms)
            .arg(if exclusive { "1" } else { "0" })
            .invoke_async(&mut connection)
            .await?;
        Ok(if reserved == 1 {
            Reserve::Reserved {
                time_left: millis(left),
            }
        } else {
            Reserve::HeldByOther {
                time_left: millis(left),
            }
        })
    }

    async fn cart(&self, agent: &str) -> Result<Vec<(i64, Duration)>> {
        let mut connection = self.connection().await?;
        let flat: Vec<i64> = script(CART)
            .key(self.cart_key(agent))
            .invoke_async(&mut connection)
            .await?;
        Ok(flat
            .chunks_exact(2)
            .map(|pair| (pair[0], millis(pair[1])))
            .collect())
    }

    async fn time_left(
        &self,
        agent: &str,
        property_id: i64,
        exclusive: bool,
    ) -> Result<Option<Duration>> {
        let mut connection = self.connection().await?;
        let left: i64 = script(TIME_LEFT)
            .key(self.hold_key(property_id))
            .key(self.cart_key(agent))
            .arg(agent)
            .arg(property_id)
            .arg(if exclusive { "1" } else { "0" })
            .invoke_async(&mut connection)
            .await?;
        Ok((left > 0).then(|| millis(left)))
    }

    async fn release(&self, agent: &str, property_id: i64) -> Result<bool> {
        let mut connection = self.connection().await?;
        let released: i64 = script(RELEASE)
            .key(self.hold_key(property_id))
            .key(self.cart_key(agent))
            .arg(agent)
            .arg(property_id)
            .invoke_async(&mut connection)
            .await?;
        Ok(released == 1)
    }

    async fn ping(&self) -> Result<()> {
        let mut connection = self.connection().await?;
        let _: String = redis::cmd("PING").query_async(&mut connection).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exclusive_hold_blocks_others_until_it_expires_or_is_released() {
        let store = MemoryReservations::default();
        let ttl = Duration::from_millis(60);
        assert!(matches!(
            store.reserve("a", 1, true, ttl),
            Reserve::Reserved { .. }
        ));
        assert!(matches!(
            store.reserve("b", 1, true, ttl),
            Reserve::HeldByOther { .. }
        ));
        // Shared leads may be in several carts.
        assert!(matches!(
            store.reserve("b", 2, false, ttl),
            Reserve::Reserved { .. }
        ));
        assert!(matches!(
            store.reserve("a", 2, false, ttl),
            Reserve::Reserved { .. }
        ));
        assert!(store.time_left("a", 1, true).is_some());
        assert!(store.time_left("b", 1, true).is_none());
        std::thread::sleep(Duration::from_millis(80));
        assert!(store.cart("a").is_empty());
        assert!(matches!(
            store.reserve("b", 1, true, ttl),
            Reserve::Reserved { .. }
        ));
        assert!(store.release("b", 1));
        assert!(matches!(
            store.reserve("a", 1, true, ttl),
            Reserve::Reserved { .. }
        ));
    }
}
