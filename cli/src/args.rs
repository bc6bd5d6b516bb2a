//! The command line: every subcommand and flag, parsed by clap.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The embedded default broker address, also the default of `-b`.
pub const DEFAULT_BROKER: &str = "127.0.0.1:9092";

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  runtime or Kafka error (the message names what failed and where)
  2  usage error: bad flag, bad -X config key or value, unsupported option
  3  could not reach the broker (connection refused, unknown host, timeout)
  4  the topic does not exist (and was not auto-created)";

#[derive(Debug, Parser)]
#[command(
    name = "odradek",
    version,
    about = "Kafka from the command line: run a broker, produce, consume, manage topics, measure",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the embedded broker (default 127.0.0.1:9092, data in ./odradek-data).
    ///
    /// The first line on stdout is the bound address, so scripts can pass `--listen
    /// 127.0.0.1:0` and read the port. SIGTERM / Ctrl-C flush every log and exit 0.
    Broker(BrokerArgs),
    /// Produce records read from stdin, one per line.
    Produce(ProduceArgs),
    /// Consume records and print them, one per line.
    Consume(ConsumeArgs),
    /// List, create, describe or delete topics.
    Topics {
        #[command(subcommand)]
        command: TopicsCommand,
    },
    /// List and describe consumer groups, show their lag, reset or delete their offsets.
    Groups {
        #[command(subcommand)]
        command: GroupsCommand,
    },
    /// Create, list or delete ACLs (Kafka's CreateAcls / DescribeAcls / DeleteAcls).
    Acls {
        #[command(subcommand)]
        command: AclsCommand,
    },
    /// Add, list or delete SCRAM users (AlterUserScramCredentials / DescribeUserScramCredentials).
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Measure throughput and latency.
    Perf {
        #[command(subcommand)]
        command: PerfCommand,
    },
}

#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = DEFAULT_BROKER)]
    pub listen: SocketAddr,
    /// Directory for topic metadata and partition logs.
    #[arg(long, default_value = "./odradek-data")]
    pub data_dir: PathBuf,
    /// HOST:PORT given to clients in metadata (default: the bound address).
    #[arg(long)]
    pub advertised: Option<String>,
    /// When to fsync: always (before every ack), interval (flush.ms, default 1 s), never.
    #[arg(long, default_value = "interval")]
    pub fsync: odradek_broker::FsyncPolicy,
    /// Kafka-style broker properties file (key=value).
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub cluster: odradek_broker::config::ClusterArgs,
    /// Start a local cluster of this many nodes on 127.0.0.1 in this process (data in
    /// DATA_DIR/node-ID, listener ports printed one line per node: `ID HOST:PORT`).
    #[arg(long, conflicts_with_all = ["node_id", "controller_quorum", "controller_listen"])]
    pub nodes: Option<u16>,
}

/// Flags every client subcommand shares.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Bootstrap broker(s), HOST:PORT[,HOST:PORT...].
    #[arg(short = 'b', long = "brokers", default_value = DEFAULT_BROKER)]
    pub brokers: String,
    /// Any client config property, e.g. -X linger.ms=20 (repeatable; unknown keys are errors).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub config: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ProduceArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Topic to produce to.
    #[arg(short = 't', long)]
    pub topic: String,
    /// Split each line at the first SEP: the text before it is the key, the rest the value.
    #[arg(short = 'k', long = "key-separator", value_name = "SEP")]
    pub key_separator: Option<String>,
    /// Compression codec: none, gzip, snappy, lz4, zstd.
    #[arg(short = 'z', long = "compression", value_name = "CODEC")]
    pub compression: Option<String>,
    /// Send every record to this partition (default: the partitioner chooses).
    #[arg(short = 'p', long)]
    pub partition: Option<i32>,
    /// Add a header to every record (repeatable).
    #[arg(short = 'H', long = "header", value_name = "KEY=VALUE")]
    pub headers: Vec<String>,
    /// Print each delivery (partition and offset) to stdout.
    #[arg(long)]
    pub report: bool,
    /// Print one JSON line per record to stdout when its delivery is known: key, value,
    /// partition and offset, or the error name and whether the record may have been written
    /// anyway (`possibly_persisted`, for `_MSG_TIMED_OUT` after an unanswered attempt).
    #[arg(long, conflicts_with = "report")]
    pub report_json: bool,
    /// No summary on stderr.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// Where consumption starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOffset {
    Beginning,
    End,
    /// This exact offset.
    At(i64),
    /// This many records before the end.
    FromEnd(i64),
}

impl std::str::FromStr for StartOffset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "beginning" | "earliest" => Ok(StartOffset::Beginning),
            "end" | "latest" => Ok(StartOffset::End),
            _ => match s.parse::<i64>() {
                Ok(n) if n >= 0 => Ok(StartOffset::At(n)),
                Ok(n) => Ok(StartOffset::FromEnd(
                    n.unsigned_abs().min(i64::MAX as u64) as i64
                )),
                Err(_) => Err(format!(
                    "{s:?} is not beginning, end, an offset, or -N (N records before the end)"
                )),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The value (with -k SEP: key SEP value), one record per line.
    Text,
    /// One JSON object per line: topic, partition, offset, key, value, timestamp, headers.
    Json,
}

#[derive(Debug, Args)]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Topic to consume.
    #[arg(short = 't', long)]
    pub topic: String,
    /// Join this consumer group: the group spreads the topic's partitions over its members,
    /// reading starts at the group's committed offsets (-o beginning|end when there are none)
    /// and offsets of printed records are committed (every 5 s and on exit).
    #[arg(short = 'g', long)]
    pub group: Option<String>,
    /// Where to start: beginning, end, an offset, or -N for N records before the end.
    #[arg(
        short = 'o',
        long,
        default_value = "beginning",
        allow_hyphen_values = true
    )]
    pub offset: StartOffset,
    /// Only this partition (default: all of them).
    #[arg(short = 'p', long)]
    pub partition: Option<i32>,
    /// Stop after COUNT records.
    #[arg(short = 'c', long)]
    pub count: Option<u64>,
    /// Exit once the end of every partition (as of start-up) is reached.
    #[arg(short = 'e', long = "exit")]
    pub exit_at_end: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Text format: print the key, then SEP, then the value.
    #[arg(short = 'k', long = "key-separator", value_name = "SEP")]
    pub key_separator: Option<String>,
    /// No summary on stderr.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// List topics with their partition counts.
    List {
        #[command(flatten)]
        client: ClientArgs,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Create a topic.
    Create {
        #[command(flatten)]
        client: ClientArgs,
        /// Topic name.
        #[arg(short = 't', long)]
        topic: String,
        /// Number of partitions (default: the broker's num.partitions).
        #[arg(short = 'p', long, default_value_t = -1, allow_hyphen_values = true)]
        partitions: i32,
        /// Replication factor (default: the broker's).
        #[arg(short = 'r', long = "replication-factor", default_value_t = -1, allow_hyphen_values = true)]
        replication_factor: i16,
        /// Topic config, e.g. -c retention.ms=60000 (repeatable).
        #[arg(short = 'c', long = "config", value_name = "KEY=VALUE")]
        configs: Vec<String>,
    },
    /// Show a topic's partitions (leader, replicas, offsets) and configs.
    Describe {
        #[command(flatten)]
        client: ClientArgs,
        /// Topic name (repeatable).
        #[arg(short = 't', long = "topic", required = true)]
        topics: Vec<String>,
        /// One JSON object per topic instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Delete topics.
    Delete {
        #[command(flatten)]
        client: ClientArgs,
        /// Topic name (repeatable).
        #[arg(short = 't', long = "topic", required = true)]
        topics: Vec<String>,
    },
    /// Move partitions to new replicas, or cancel a move in progress (returns once the
    /// controller has recorded it; `topics reassignments` shows the progress).
    Reassign {
        #[command(flatten)]
        client: ClientArgs,
        /// A partition and its new replicas, preferred leader first, e.g. events:0=2,3,1
        /// (repeatable).
        #[arg(short = 'm', long = "move", value_name = "TOPIC:PARTITION=IDS")]
        moves: Vec<String>,
        /// A partition whose reassignment in progress is cancelled, e.g. events:0 (repeatable).
        #[arg(long = "cancel", value_name = "TOPIC:PARTITION")]
        cancels: Vec<String>,
    },
    /// List the partition reassignments in progress.
    Reassignments {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Elect partition leaders: the preferred replica (default), or with --unclean any live
    /// replica of a partition that has no leader (may lose acknowledged records).
    ElectLeaders {
        #[command(flatten)]
        client: ClientArgs,
        /// A partition, e.g. events:0 (repeatable; default: every partition).
        #[arg(short = 'p', long = "partition", value_name = "TOPIC:PARTITION")]
        partitions: Vec<String>,
        /// An unclean election instead of the preferred replica.
        #[arg(long)]
        unclean: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PerfCommand {
    /// Produce generated records as fast as allowed; report throughput and delivery latency.
    Produce(PerfProduceArgs),
    /// Consume a topic from the beginning; report throughput.
    Consume(PerfConsumeArgs),
}

#[derive(Debug, Args)]
pub struct PerfProduceArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Topic to produce to.
    #[arg(short = 't', long)]
    pub topic: String,
    /// How many records to send.
    #[arg(short = 'n', long = "num-records", default_value_t = 100_000)]
    pub num_records: u64,
    /// Value size in bytes.
    #[arg(short = 's', long = "record-size", default_value_t = 100)]
    pub record_size: usize,
    /// Target records per second (0: as fast as possible).
    #[arg(long, default_value_t = 0)]
    pub throughput: u64,
    /// Compression codec: none, gzip, snappy, lz4, zstd.
    #[arg(short = 'z', long = "compression", value_name = "CODEC")]
    pub compression: Option<String>,
    /// Print a final machine-readable JSON line on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PerfConsumeArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Topic to consume.
    #[arg(short = 't', long)]
    pub topic: String,
    /// Stop after this many records (default: everything up to the end as of start-up).
    #[arg(short = 'n', long = "num-records")]
    pub num_records: Option<u64>,
    /// Print a final machine-readable JSON line on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// List groups (classic and KIP-848 consumer groups) with their type and state.
    List {
        #[command(flatten)]
        client: ClientArgs,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Describe groups: type, state, assignor, members and the partitions they own.
    Describe {
        #[command(flatten)]
        client: ClientArgs,
        /// Group(s) to describe (repeatable).
        #[arg(short = 'g', long = "group", required = true)]
        groups: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Committed offset, log-end offset and lag per partition.
    Lag {
        #[command(flatten)]
        client: ClientArgs,
        #[arg(short = 'g', long)]
        group: String,
        /// Also show these topics' partitions that have nothing committed (repeatable).
        #[arg(short = 't', long = "topic")]
        topics: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Reset a group's committed offsets for a topic (only while the group has no members).
    ResetOffsets {
        #[command(flatten)]
        client: ClientArgs,
        #[arg(short = 'g', long)]
        group: String,
        #[arg(short = 't', long)]
        topic: String,
        #[command(flatten)]
        to: ResetTarget,
        /// Print the new offsets without committing them.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Delete groups without members, with their committed offsets.
    Delete {
        #[command(flatten)]
        client: ClientArgs,
        #[arg(short = 'g', long = "group", required = true)]
        groups: Vec<String>,
    },
}

/// Where `groups reset-offsets` moves the committed offsets (exactly one).
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ResetTarget {
    /// The first offset of each partition.
    #[arg(long)]
    pub to_earliest: bool,
    /// The log end of each partition.
    #[arg(long)]
    pub to_latest: bool,
    /// This offset in every partition (clamped to the partition's range).
    #[arg(long, value_name = "OFFSET")]
    pub to_offset: Option<i64>,
    /// The first record at or after this time: YYYY-MM-DDTHH:MM:SS[.mmm][Z|+HH:MM] (UTC when
    /// no zone is given), or milliseconds since the epoch.
    #[arg(long, value_name = "DATETIME")]
    pub to_datetime: Option<String>,
}

/// The resource and ACL fields `odradek acls` takes. For `create` the operation and principal
/// are required; for `list` and `delete` every field left out matches anything.
#[derive(Debug, Args)]
pub struct AclArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// A topic.
    #[arg(long, group = "resource")]
    pub topic: Option<String>,
    /// A consumer group.
    #[arg(long, group = "resource")]
    pub group: Option<String>,
    /// The cluster (`kafka-cluster`).
    #[arg(long, group = "resource")]
    pub cluster: bool,
    /// A transactional id.
    #[arg(long, group = "resource")]
    pub transactional_id: Option<String>,
    /// The name is a prefix (PREFIXED pattern) instead of a literal name (`*` is every name).
    #[arg(long)]
    pub prefixed: bool,
    /// The principal, e.g. User:alice (User:* is everyone).
    #[arg(long)]
    pub principal: Option<String>,
    /// The client host (default for create: any, `*`).
    #[arg(long)]
    pub host: Option<String>,
    /// Operation(s): Read, Write, Create, Delete, Alter, Describe, ClusterAction,
    /// DescribeConfigs, AlterConfigs, IdempotentWrite, All (repeatable).
    #[arg(long = "operation")]
    pub operations: Vec<String>,
    /// A DENY instead of an ALLOW (deny wins).
    #[arg(long)]
    pub deny: bool,
}

#[derive(Debug, Subcommand)]
pub enum AclsCommand {
    /// Create ACLs: one per --operation.
    Create(AclArgs),
    /// List the ACLs the filter matches (all without flags).
    List {
        #[command(flatten)]
        acl: AclArgs,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete the ACLs the filter matches and print them.
    Delete(AclArgs),
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a SCRAM user, or change its password, for one mechanism.
    Add {
        #[command(flatten)]
        client: ClientArgs,
        /// User name.
        user: String,
        /// The password (read from the ODRADEK_USER_PASSWORD environment variable when not
        /// given, so it need not appear in the process list).
        #[arg(long)]
        password: Option<String>,
        /// SCRAM-SHA-256 or SCRAM-SHA-512.
        #[arg(long, default_value = "SCRAM-SHA-512")]
        mechanism: String,
        /// PBKDF2 iterations (4096 to 16384).
        #[arg(long, default_value_t = 4096)]
        iterations: u32,
    },
    /// List SCRAM users and their mechanisms.
    List {
        #[command(flatten)]
        client: ClientArgs,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete a user's SCRAM credential (both mechanisms unless --mechanism is given).
    Delete {
        #[command(flatten)]
        client: ClientArgs,
        /// User name.
        user: String,
        /// SCRAM-SHA-256 or SCRAM-SHA-512.
        #[arg(long)]
        mechanism: Option<String>,
    },
}
