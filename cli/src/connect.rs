//! From command-line flags to a validated client config, a reachable broker and a known topic.

use std::sync::Arc;
use std::time::{Duration, Instant};

use odradek::cluster::{Cluster, TopicInfo};
use odradek::config::Config;
use odradek::error::{ErrorKind, ResponseError};

use crate::args::ClientArgs;
use crate::failure::{CliResult, Exit, Failure};

/// Builds the client config: `-b` as `bootstrap.servers`, then every `-X key=value`, each
/// validated by the core config (an unknown key or bad value is a usage error naming it).
pub fn client_config(args: &ClientArgs) -> CliResult<Config> {
    let mut config = Config::new();
    config
        .set("bootstrap.servers", &args.brokers)
        .map_err(|e| Failure::usage(format!("-b {}: {e}", args.brokers)))?;
    // The producer's and consumer's client id shows up in broker logs; say who we are.
    config
        .set("client.id", "odradek-cli")
        .map_err(|e| Failure::usage(e.to_string()))?;
    for pair in &args.config {
        let (key, value) = split_pair(pair, "-X")?;
        config
            .set(key, value)
            // The key only: the value may be a password (the core's message shows values of
            // keys that are not secrets).
            .map_err(|e| Failure::usage(format!("-X {key}: {e}")))?;
    }
    config
        .client()
        .map_err(|e| Failure::usage(format!("-b {}: {e}", args.brokers)))?;
    Ok(config)
}

/// Splits `key=value`; `flag` names the option in the error.
pub fn split_pair<'a>(pair: &'a str, flag: &str) -> CliResult<(&'a str, &'a str)> {
    pair.split_once('=')
        .filter(|(k, _)| !k.trim().is_empty())
        .ok_or_else(|| Failure::usage(format!("{flag} {pair:?}: expected KEY=VALUE")))
}

/// Opens one connection to a bootstrap broker, trying each once: a wrong address fails now
/// (exit 3) instead of after the client's retries run out.
pub async fn reach_broker(cluster: &Cluster) -> CliResult<()> {
    let servers = cluster.config().bootstrap_servers.join(",");
    match cluster.any_connection().await {
        Ok(_) => Ok(()),
        Err(e) => Err(Failure::new(
            Exit::Unreachable,
            format!("could not reach the broker at {servers}: {e}"),
        )),
    }
}

/// How long an unknown topic is asked about again when the request may auto-create it: Apache
/// Kafka (KRaft) creates it asynchronously and answers UNKNOWN_TOPIC_OR_PARTITION meanwhile.
const AUTO_CREATE_WAIT: Duration = Duration::from_secs(5);

/// The metadata of `topic`. Whether asking creates the topic follows the cluster's
/// `allow.auto.create.topics` (and the broker's setting). An unknown topic is exit 4: at once
/// when auto-creation was not asked for, else once [`AUTO_CREATE_WAIT`] (at most
/// `request.timeout.ms`) has passed. A topic still being created (no leader yet) is waited for
/// within `request.timeout.ms`.
pub async fn topic_info(cluster: &Cluster, topic: &str) -> CliResult<Arc<TopicInfo>> {
    let doing = || format!("looking up topic {topic:?}");
    let config = cluster.config();
    let wait = if config.allow_auto_create_topics {
        AUTO_CREATE_WAIT.min(config.request_timeout)
    } else {
        Duration::ZERO
    };
    let deadline = Instant::now() + wait;
    let mut delay = Duration::from_millis(50);
    loop {
        let snapshot = cluster
            .refresh(&[topic])
            .await
            .map_err(|e| Failure::client(doing(), &e))?;
        if let Some(info) = snapshot.topics.get(topic) {
            return Ok(info.clone());
        }
        let unknown = snapshot.topic_errors.get(topic).is_some_and(|err| {
            matches!(
                err.kind(),
                ErrorKind::Kafka(ResponseError::UnknownTopicOrPartition)
            )
        });
        if !unknown {
            break;
        }
        if Instant::now() >= deadline {
            return Err(Failure::new(
                Exit::NoSuchTopic,
                format!(
                    "topic {topic:?} does not exist on {} (create it with `odradek topics create -t {topic}`)",
                    config.bootstrap_servers.join(",")
                ),
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
    cluster
        .topic(topic)
        .await
        .map_err(|e| Failure::client(doing(), &e))
}

/// Checks that `partition` exists in `info`.
pub fn check_partition(info: &TopicInfo, partition: i32) -> CliResult<()> {
    if partition < 0 || partition as usize >= info.partitions.len() {
        return Err(Failure::runtime(format!(
            "topic {:?} has partitions 0..{}; there is no partition {partition}",
            info.name,
            info.partitions.len()
        )));
    }
    Ok(())
}
