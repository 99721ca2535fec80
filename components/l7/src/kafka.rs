//! Kafka requests: the request header (size, api_key, api_version, correlation id, client id,
//! and, in flexible versions, tagged fields), then for the messaging calls the body as far as its
//! topic or consumer group.
//!
//! `messaging.operation.name` is the API's own name (Produce, Fetch, JoinGroup, ...), the
//! system-specific name the conventions ask for; the span name adds the topic when the request
//! is for one topic. Since Kafka 4.1 (Produce v13) and 3.1 (Fetch v13) requests name a topic by
//! its id, a UUID only the cluster's metadata maps to a name: such spans carry no destination.

use crate::{Options, Semantics, text};

/// The API names as Kafka's protocol spec spells them, indexed by api_key.
#[rustfmt::skip]
const APIS: [&str; 93] = [
    "Produce", "Fetch", "ListOffsets", "Metadata", "LeaderAndIsr", "StopReplica", "UpdateMetadata",
    "ControlledShutdown", "OffsetCommit", "OffsetFetch", "FindCoordinator", "JoinGroup",
    "Heartbeat", "LeaveGroup", "SyncGroup", "DescribeGroups", "ListGroups", "SaslHandshake",
    "ApiVersions", "CreateTopics", "DeleteTopics", "DeleteRecords", "InitProducerId",
    "OffsetForLeaderEpoch", "AddPartitionsToTxn", "AddOffsetsToTxn", "EndTxn", "WriteTxnMarkers",
    "TxnOffsetCommit", "DescribeAcls", "CreateAcls", "DeleteAcls", "DescribeConfigs",
    "AlterConfigs", "AlterReplicaLogDirs", "DescribeLogDirs", "SaslAuthenticate",
    "CreatePartitions", "CreateDelegationToken", "RenewDelegationToken", "ExpireDelegationToken",
    "DescribeDelegationToken", "DeleteGroups", "ElectLeaders", "IncrementalAlterConfigs",
    "AlterPartitionReassignments", "ListPartitionReassignments", "OffsetDelete",
    "DescribeClientQuotas", "AlterClientQuotas", "DescribeUserScramCredentials",
    "AlterUserScramCredentials", "Vote", "BeginQuorumEpoch", "EndQuorumEpoch", "DescribeQuorum",
    "AlterPartition", "UpdateFeatures", "Envelope", "FetchSnapshot", "DescribeCluster",
    "DescribeProducers", "BrokerRegistration", "BrokerHeartbeat", "UnregisterBroker",
    "DescribeTransactions", "ListTransactions", "AllocateProducerIds", "ConsumerGroupHeartbeat",
    "ConsumerGroupDescribe", "ControllerRegistration", "GetTelemetrySubscriptions",
    "PushTelemetry", "AssignReplicasToDirs", "ListConfigResources", "DescribeTopicPartitions",
    "ShareGroupHeartbeat", "ShareGroupDescribe", "ShareFetch", "ShareAcknowledge", "AddRaftVoter",
    "RemoveRaftVoter", "UpdateRaftVoter", "InitializeShareGroupState", "ReadShareGroupState",
    "WriteShareGroupState", "DeleteShareGroupState", "ReadShareGroupStateSummary",
    "StreamsGroupHeartbeat", "StreamsGroupDescribe", "DescribeShareGroupOffsets",
    "AlterShareGroupOffsets", "DeleteShareGroupOffsets",
];

const PRODUCE: i16 = 0;
const FETCH: i16 = 1;
const OFFSET_COMMIT: i16 = 8;
const OFFSET_FETCH: i16 = 9;
const JOIN_GROUP: i16 = 11;
const HEARTBEAT: i16 = 12;
const LEAVE_GROUP: i16 = 13;
const SYNC_GROUP: i16 = 14;
const TXN_OFFSET_COMMIT: i16 = 28;
const CONSUMER_GROUP_HEARTBEAT: i16 = 68;
const SHARE_GROUP_HEARTBEAT: i16 = 76;
const SHARE_FETCH: i16 = 78;
const SHARE_ACKNOWLEDGE: i16 = 79;
const STREAMS_GROUP_HEARTBEAT: i16 = 88;

/// No API has come near this many versions; a larger number means these are not Kafka bytes.
const MAX_VERSION: i16 = 40;
/// Kafka refuses requests past 100 MiB by default; allow configured limits far beyond that.
const MAX_SIZE: i32 = 1 << 30;

/// The first version that uses compact encodings and tagged fields, for the APIs whose body is
/// read (the header's tagged fields follow the same switch).
fn flexible_from(api_key: i16) -> i16 {
    match api_key {
        PRODUCE => 9,
        FETCH => 12,
        OFFSET_COMMIT => 8,
        OFFSET_FETCH => 6,
        JOIN_GROUP => 6,
        HEARTBEAT | LEAVE_GROUP | SYNC_GROUP => 4,
        TXN_OFFSET_COMMIT => 3,
        _ => 0,
    }
}

/// The messaging operation type an API stands for, where one applies.
fn operation_type(api_key: i16) -> Option<&'static str> {
    match api_key {
        PRODUCE => Some("send"),
        FETCH | SHARE_FETCH => Some("receive"),
        OFFSET_COMMIT | TXN_OFFSET_COMMIT | SHARE_ACKNOWLEDGE => Some("settle"),
        _ => None,
    }
}

/// A cursor over the captured bytes; every read is `None` once the capture ends.
struct Reader<'a> {
    b: &'a [u8],
    /// Compact (flexible) encodings.
    compact: bool,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.b.split_at_checked(n)?;
        self.b = rest;
        Some(head)
    }

    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn uvarint(&mut self) -> Option<u32> {
        let mut value = 0u32;
        for shift in (0..35).step_by(7) {
            let byte = *self.take(1)?.first()?;
            value |= u32::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    /// A (nullable) string: `Some(None)` is null; `None` if cut or malformed.
    fn string(&mut self) -> Option<Option<&'a [u8]>> {
        let len = if self.compact {
            i64::from(self.uvarint()?) - 1
        } else {
            i64::from(self.i16()?)
        };
        match len {
            -1 => Some(None),
            0.. => Some(Some(self.take(usize::try_from(len).ok()?)?)),
            _ => None,
        }
    }

    /// An array's element count (null arrays count as empty).
    fn array(&mut self) -> Option<u32> {
        if self.compact {
            return Some(self.uvarint()?.saturating_sub(1));
        }
        Some(u32::try_from(self.i32()?).unwrap_or(0))
    }

    fn tagged_fields(&mut self) -> Option<()> {
        for _ in 0..self.uvarint()? {
            self.uvarint()?;
            let size = self.uvarint()?;
            self.take(usize::try_from(size).ok()?)?;
        }
        Some(())
    }
}

/// What the body says about where the request goes.
#[derive(Default)]
struct Target<'a> {
    topic: Option<&'a [u8]>,
    partition: Option<i32>,
    group: Option<&'a [u8]>,
}

/// The topic of an array of topics whose entries start with the name (or, from `id_from` on, a
/// topic id), then an array of partitions that start with their index. Only a request for one
/// topic (one partition) has a destination (partition): the conventions name none for a batch
/// whose messages go to several.
fn only_topic<'a>(r: &mut Reader<'a>, version: i16, id_from: i16, target: &mut Target<'a>) {
    if r.array() != Some(1) || version >= id_from {
        return;
    }
    let Some(Some(name)) = r.string() else { return };
    if !valid_topic(name) {
        return;
    }
    target.topic = Some(name);
    if r.array() == Some(1) {
        target.partition = r.i32();
    }
}

fn produce<'a>(r: &mut Reader<'a>, version: i16) -> Option<Target<'a>> {
    let mut target = Target::default();
    if version >= 3 {
        r.string()?; // transactional_id
    }
    r.take(6)?; // acks, timeout
    only_topic(r, version, 13, &mut target);
    Some(target)
}

fn fetch<'a>(r: &mut Reader<'a>, version: i16) -> Option<Target<'a>> {
    let mut target = Target::default();
    let replica_id = if version <= 14 { 4 } else { 0 };
    let max_bytes = if version >= 3 { 4 } else { 0 };
    let isolation = if version >= 4 { 1 } else { 0 };
    let session = if version >= 7 { 8 } else { 0 };
    r.take(replica_id + 8 + max_bytes + isolation + session)?;
    only_topic(r, version, 13, &mut target);
    Some(target)
}

/// The consumer group of the group APIs, whose body starts with it.
fn group<'a>(r: &mut Reader<'a>, api_key: i16, version: i16) -> Option<&'a [u8]> {
    match api_key {
        OFFSET_FETCH if version >= 8 => {
            if r.array()? == 0 {
                return None;
            }
        }
        TXN_OFFSET_COMMIT => {
            r.string()?; // transactional_id
        }
        OFFSET_COMMIT
        | OFFSET_FETCH
        | JOIN_GROUP
        | HEARTBEAT
        | LEAVE_GROUP
        | SYNC_GROUP
        | CONSUMER_GROUP_HEARTBEAT
        | SHARE_GROUP_HEARTBEAT
        | SHARE_FETCH
        | SHARE_ACKNOWLEDGE
        | STREAMS_GROUP_HEARTBEAT => {}
        _ => return None,
    }
    r.string()?.filter(|g| !g.is_empty())
}

/// Kafka's own rule for topic names; a name cut by the capture may still pass, so callers only
/// take names the capture holds whole (`Reader::string` fails otherwise).
fn valid_topic(name: &[u8]) -> bool {
    (1..=249).contains(&name.len())
        && name
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

pub(crate) fn parse(request: &[u8], _options: &Options) -> Option<Semantics> {
    let mut r = Reader {
        b: request,
        compact: false,
    };
    let size = r.i32()?;
    let api_key = r.i16()?;
    let version = r.i16()?;
    r.i32()?; // correlation id
    let api = *APIS.get(usize::try_from(api_key).ok()?)?;
    // the header alone (api_key to client_id's length) is 10 bytes
    if !(10..=MAX_SIZE).contains(&size) || !(0..=MAX_VERSION).contains(&version) {
        return None;
    }
    let mut semantics = Semantics {
        name: api.to_string(),
        attributes: Vec::new(),
    };
    semantics.push_static("messaging.system", "kafka");
    semantics.push_str("messaging.operation.name", api);
    if let Some(kind) = operation_type(api_key) {
        semantics.push_str("messaging.operation.type", kind);
    }
    // the client id is a classic nullable string in every header version
    let client_id = match r.i16() {
        Some(-1) => Some(&[][..]),
        Some(len @ 0..) if i32::from(len) <= size - 10 => r.take(len as usize),
        Some(_) => return None,
        None => None,
    };
    let Some(client_id) = client_id else {
        return Some(semantics);
    };
    if !client_id.is_empty() {
        semantics.push_str("messaging.client.id", text(client_id));
    }
    r.compact = version >= flexible_from(api_key);
    if r.compact && r.tagged_fields().is_none() {
        return Some(semantics);
    }
    let target = match api_key {
        PRODUCE => produce(&mut r, version),
        FETCH => fetch(&mut r, version),
        _ => group(&mut r, api_key, version).map(|group| Target {
            group: Some(group),
            ..Target::default()
        }),
    }
    .unwrap_or_default();
    if let Some(topic) = target.topic {
        let topic = text(topic);
        semantics.name = format!("{api} {topic}");
        semantics.push_str("messaging.destination.name", topic);
        if let Some(partition) = target.partition.filter(|p| *p >= 0) {
            semantics.push_str("messaging.destination.partition.id", partition.to_string());
        }
    }
    if let Some(group) = target.group {
        semantics.push_str("messaging.consumer.group.name", text(group));
    }
    Some(semantics)
}

#[cfg(test)]
#[path = "kafka_tests.rs"]
mod tests;
