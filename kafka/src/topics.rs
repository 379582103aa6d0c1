//! Every topic as code: name, partitions, retention and clean-up policy, and why. `aiqleads kafka
//! create-topics` applies them through the admin API; running it again changes nothing.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use crate::bus::streams;
use crate::kafka::KafkaSettings;
use crate::{Error, Result};

/// How long a topic keeps records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retention {
    /// Deleted after this long.
    For(Duration),
    /// Never deleted: the topic is a changelog state is rebuilt from.
    Forever,
    /// Compacted: the latest record per key is kept forever.
    Compacted,
}

/// One topic of the deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: &'static str,
    pub partitions: i32,
    pub retention: Retention,
    /// What is on it, keyed by what, and why this retention.
    pub purpose: &'static str,
}

impl TopicSpec {
    /// The broker settings that express the retention.
    pub fn config(&self) -> Vec<(&'static str, String)> {
        match self.retention {
            Retention::For(d) => vec![
                ("cleanup.policy", "delete".into()),
                ("retention.ms", d.as_millis().to_string()),
            ],
            // 100 years rather than -1: Kafka reads -1 as "forever", but a Kafka-protocol broker
            // that reads it literally deletes everything at once (tansu 0.6 does).
            Retention::Forever => vec![
                ("cleanup.policy", "delete".into()),
                ("retention.ms", FOREVER_MS.to_string()),
            ],
            Retention::Compacted => vec![("cleanup.policy", "compact".into())],
        }
    }
}

const DAY: Duration = Duration::from_secs(24 * 3600);
/// "Never delete", as a finite retention every broker understands.
const FOREVER_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// The topics, with `partitions` for the listing topics (the unit of scale-out: at most that many
/// job instances share the work).
pub fn topics(partitions: i32) -> Vec<TopicSpec> {
    let partitions = partitions.max(1);
    vec![
        TopicSpec {
            name: streams::LISTINGS_RAW,
            partitions,
            retention: Retention::For(7 * DAY),
            purpose: "raw listings from connectors, keyed by source:listing id; a week to replay",
        },
        TopicSpec {
            name: streams::LISTINGS_BY_BLOCK,
            partitions,
            retention: Retention::Forever,
            purpose: "normalised listings keyed by dedupe blocking key, and the marketplace events of \
                      their leads (told apart by the origin header); the enrich job rebuilds a \
                      partition's dedupe, fraud and pricing state by replaying it, so it is kept",
        },
        TopicSpec {
            name: streams::LEADS_ENRICHED,
            partitions,
            retention: Retention::Compacted,
            purpose: "sellable leads keyed by source:listing id; the latest version of each is kept",
        },
        TopicSpec {
            name: streams::LEADS_QUARANTINE,
            partitions: (partitions / 4).max(1),
            retention: Retention::Compacted,
            purpose: "leads the fraud score quarantined, keyed by source:listing id, for review",
        },
        TopicSpec {
            name: streams::LISTINGS_DLQ,
            partitions: (partitions / 4).max(1),
            retention: Retention::For(30 * DAY),
            purpose: "records no stage could process: reason, original bytes, provenance; replayable",
        },
        TopicSpec {
            name: streams::MARKETPLACE_EVENTS,
            partitions: (partitions / 2).max(1),
            retention: Retention::For(30 * DAY),
            purpose: "views, cart adds and purchases from the API, keyed by property id, for pricing",
        },
    ]
}

/// What [`create_topics`] did with one topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopicOutcome {
    Created,
    AlreadyExists,
}

/// Creates every missing topic; existing ones are left as they are (idempotent).
pub async fn create_topics(
    brokers: &str,
    settings: &KafkaSettings,
    specs: &[TopicSpec],
) -> Result<Vec<(&'static str, TopicOutcome)>> {
    let admin: AdminClient<DefaultClientContext> = settings
        .client_config(brokers)
        .create()
        .map_err(|e| Error::Bus(format!("admin client for {brokers}: {e}")))?;
    let configs: Vec<Vec<(&str, String)>> = specs.iter().map(TopicSpec::config).collect();
    let new_topics: Vec<NewTopic<'_>> = specs
        .iter()
        .zip(&configs)
        .map(|(spec, config)| {
            config.iter().fold(
                NewTopic::new(
                    spec.name,
                    spec.partitions,
                    TopicReplication::Fixed(settings.replication_factor),
                ),
                |topic, (key, value)| topic.set(key, value),
            )
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(&new_topics, &options)
        .await
        .map_err(|e| Error::Bus(format!("create topics on {brokers}: {e}")))?;
    let mut outcomes = Vec::with_capacity(specs.len());
    for (spec, result) in specs.iter().zip(results) {
        match result {
            Ok(_) => outcomes.push((spec.name, TopicOutcome::Created)),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {
                outcomes.push((spec.name, TopicOutcome::AlreadyExists))
            }
            Err((name, code)) => {
                return Err(Error::Bus(format!("create topic {name}: {code}")));
            }
        }
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_has_one_topic_with_a_stated_retention() {
        let specs = topics(12);
        let names: Vec<_> = specs.iter().map(|s| s.name).collect();
        for stream in [
            streams::LISTINGS_RAW,
            streams::LISTINGS_BY_BLOCK,
            streams::LEADS_ENRICHED,
            streams::LEADS_QUARANTINE,
            streams::LISTINGS_DLQ,
            streams::MARKETPLACE_EVENTS,
        ] {
            assert_eq!(
                names.iter().filter(|n| **n == stream).count(),
                1,
                "{stream}"
            );
        }
        let by_block = specs
            .iter()
            .find(|s| s.name == streams::LISTINGS_BY_BLOCK)
            .unwrap();
        assert_eq!(
            by_block.config(),
            vec![
                ("cleanup.policy", "delete".into()),
                ("retention.ms", "3153600000000".into())
            ]
        );
        assert!(topics(1).iter().all(|s| s.partitions == 1));
    }
}
