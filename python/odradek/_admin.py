"""The admin surface beyond topics: configs, consumer groups (offsets, lag), records, the
cluster, ACLs and SCRAM users, with confluent-kafka's ``AdminClient`` names. Calls block (GIL
released) up to ``timeout`` seconds and return their result (no futures); errors are
:class:`KafkaError` subclasses naming the topic / partition where known."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

from .errors import KafkaError

if TYPE_CHECKING:
    from ._client import PartitionLike, TopicPartition

__all__ = [
    "ConfigResource",
    "ConfigEntry",
    "Node",
    "ClusterDescription",
    "PartitionReassignment",
    "ConsumerGroupListing",
    "MemberDescription",
    "ConsumerGroupDescription",
    "PartitionLag",
    "AclBinding",
    "AclBindingFilter",
    "ScramCredentialInfo",
    "UserScramCredentialUpsertion",
    "UserScramCredentialDeletion",
]


class ConfigResource(NamedTuple):
    """A resource with configs: ``restype`` ``"topic"`` or ``"broker"`` (any case), and its
    name (a broker's is its node id, e.g. ``"1"``)."""

    restype: str
    name: str


class ConfigEntry(NamedTuple):
    """One config of a resource as described: ``value`` is ``None`` for a sensitive or unset
    config; ``is_default`` says it is not set on this resource."""

    name: str
    value: Optional[str]
    is_read_only: bool
    is_default: bool
    is_sensitive: bool


class Node(NamedTuple):
    """A broker of the cluster."""

    id: int
    host: str
    port: int
    rack: Optional[str]


class ClusterDescription(NamedTuple):
    """What DescribeCluster reports."""

    cluster_id: str
    controller_id: int
    nodes: List[Node]


class PartitionReassignment(NamedTuple):
    """A reassignment in progress: every replica meanwhile (the target ones, then those being
    removed), the ones catching up and the ones to drop once the target ones are in sync."""

    topic: str
    partition: int
    replicas: List[int]
    adding_replicas: List[int]
    removing_replicas: List[int]


class ConsumerGroupListing(NamedTuple):
    """A group as listed: ``state`` is the coordinator's name (``Stable``, ``Empty``, ...),
    ``type`` ``classic`` or ``consumer`` (KIP-848), ``protocol_type`` ``consumer`` for consumer
    groups and empty for a group with committed offsets only."""

    group_id: str
    state: str
    type: str
    protocol_type: str


class MemberDescription(NamedTuple):
    """A member of a described group."""

    member_id: str
    client_id: str
    host: str
    group_instance_id: Optional[str]
    assignment: List["TopicPartition"]


class ConsumerGroupDescription(NamedTuple):
    """A described group; ``state`` is ``Dead`` for a group that does not exist. ``assignor``:
    the chosen one (classic) or the server-side one (consumer); ``epoch``: the generation
    (classic) or the group epoch (consumer)."""

    group_id: str
    type: str
    state: str
    assignor: str
    epoch: int
    members: List[MemberDescription]


class PartitionLag(NamedTuple):
    """How far a group is behind on one partition. ``committed`` is ``None`` when the group
    committed nothing here (then ``lag`` counts from the log start); ``log_end`` is the last
    stable offset, so records of open transactions are not lag."""

    topic: str
    partition: int
    committed: Optional[int]
    log_end: int
    lag: int


class AclBinding(NamedTuple):
    """One ACL, with Kafka's names (any case): ``restype`` ``TOPIC``/``GROUP``/``CLUSTER``/
    ``TRANSACTIONAL_ID``, ``resource_pattern_type`` ``LITERAL``/``PREFIXED``, ``operation``
    ``READ``/``WRITE``/``DESCRIBE``/``ALL``/..., ``permission_type`` ``ALLOW``/``DENY``.
    ``principal`` is ``User:alice`` (``User:*``: everyone). Described ACLs come back with the
    core's spelling (``Topic``, ``Literal``, ``Read``)."""

    restype: str
    name: str
    principal: str
    operation: str
    permission_type: str = "ALLOW"
    host: str = "*"
    resource_pattern_type: str = "LITERAL"


class AclBindingFilter(NamedTuple):
    """Which ACLs to describe or delete; ``None`` matches anything (``ANY``). A
    ``resource_pattern_type`` of ``MATCH`` finds the ACLs that apply to ``name``."""

    restype: Optional[str] = None
    name: Optional[str] = None
    principal: Optional[str] = None
    operation: Optional[str] = None
    permission_type: Optional[str] = None
    host: Optional[str] = None
    resource_pattern_type: Optional[str] = None


class ScramCredentialInfo(NamedTuple):
    """A SCRAM credential as described (never the password): ``mechanism`` ``SCRAM-SHA-256`` or
    ``SCRAM-SHA-512``, and the iteration count."""

    mechanism: str
    iterations: int


@dataclass(frozen=True)
class UserScramCredentialUpsertion:
    """Set ``user``'s password for ``mechanism``. Salted and iterated in the client; only the
    salted password goes to the broker. The password is left out of ``repr``."""

    user: str
    mechanism: str
    password: str = field(repr=False)
    iterations: int = 8192


@dataclass(frozen=True)
class UserScramCredentialDeletion:
    """Delete ``user``'s credential for ``mechanism``."""

    user: str
    mechanism: str


_ScramAlteration = Union[UserScramCredentialUpsertion, UserScramCredentialDeletion]


def _acl(t: Tuple[str, str, str, str, str, str, str]) -> AclBinding:
    restype, name, pattern, principal, host, operation, permission = t
    return AclBinding(restype, name, principal, operation, permission, host, pattern)


def _acl_filter(f: AclBindingFilter) -> Tuple[Optional[str], ...]:
    return (f.restype, f.name, f.resource_pattern_type, f.principal, f.host, f.operation,
            f.permission_type)


class AdminSurface:
    """The admin calls beyond topics; :class:`odradek.AdminClient` has them all."""

    _native: Any

    # Configs

    def describe_configs(
        self, resource: ConfigResource, keys: Optional[Sequence[str]] = None,
        timeout: Optional[float] = 30.0,
    ) -> Dict[str, ConfigEntry]:
        """The configs of one resource by name (all of them, or only ``keys``)."""
        got = self._native.describe_configs(resource.restype, resource.name,
                                            None if keys is None else list(keys), timeout)
        return {e[0]: ConfigEntry(*e) for e in got}

    def alter_configs(
        self, resource: ConfigResource, configs: Mapping[str, Optional[str]],
        timeout: Optional[float] = 30.0,
    ) -> None:
        """Changes configs of one resource incrementally (IncrementalAlterConfigs): each name
        is set to its value, or reverted to the default when the value is ``None``; the
        others stay as they are."""
        changes = [(str(k), None if v is None else str(v)) for k, v in configs.items()]
        self._native.alter_configs(resource.restype, resource.name, changes, timeout)

    # Cluster and records

    def describe_cluster(self, timeout: Optional[float] = 30.0) -> ClusterDescription:
        """Cluster id, controller and brokers."""
        cluster_id, controller, nodes = self._native.describe_cluster(timeout)
        return ClusterDescription(cluster_id, controller, [Node(*n) for n in nodes])

    def delete_records(
        self, partitions: Sequence["PartitionLike"], timeout: Optional[float] = 30.0
    ) -> List["TopicPartition"]:
        """Deletes the records before each partition's ``offset``; returns each partition with
        its new low watermark as ``offset``, in the order given."""
        from ._client import TopicPartition, _tp

        before = [(t.topic, t.partition, t.offset) for t in map(_tp, partitions)]
        return [TopicPartition(*p) for p in self._native.delete_records(before, timeout)]

    def alter_partition_reassignments(
        self,
        reassignments: Mapping["PartitionLike", Optional[Sequence[int]]],
        timeout: Optional[float] = 30.0,
    ) -> None:
        """Moves each partition to the broker ids given (the first one preferred), or cancels
        its reassignment in progress (``None``). Returns once the controller recorded them (the
        new replicas then catch up; see :meth:`list_partition_reassignments`)."""
        from ._client import _tp

        moves = []
        for p, replicas in reassignments.items():
            tp = _tp(p)
            moves.append((tp.topic, tp.partition, None if replicas is None else list(replicas)))
        self._native.alter_partition_reassignments(moves, timeout)

    def list_partition_reassignments(
        self,
        partitions: Optional[Sequence["PartitionLike"]] = None,
        timeout: Optional[float] = 30.0,
    ) -> List[PartitionReassignment]:
        """The reassignments in progress (of ``partitions``, if given), by topic and partition."""
        from ._client import _tp

        only = None if partitions is None else [
            (t.topic, t.partition) for t in map(_tp, partitions)]
        return [PartitionReassignment(*r)
                for r in self._native.list_partition_reassignments(only, timeout)]

    def elect_leaders(
        self,
        election_type: str = "preferred",
        partitions: Optional[Sequence["PartitionLike"]] = None,
        timeout: Optional[float] = 30.0,
    ) -> Dict["TopicPartition", Optional[KafkaError]]:
        """Elects the ``"preferred"`` replica (or, ``"unclean"``, any live one) leader of
        ``partitions``, or of every partition when ``None`` (then only those an election was
        tried for are answered). Each partition's error, or ``None`` when it was elected
        (``ELECTION_NOT_NEEDED`` when its leader already was the one)."""
        from ._client import TopicPartition, _tp

        if election_type not in ("preferred", "unclean"):
            raise ValueError(
                f"election_type must be 'preferred' or 'unclean', not {election_type!r}")
        only = None if partitions is None else [
            (t.topic, t.partition) for t in map(_tp, partitions)]
        results = self._native.elect_leaders(election_type == "unclean", only, timeout)
        return {TopicPartition(t, p): error for t, p, error in results}

    # Consumer groups

    def list_consumer_groups(self, timeout: Optional[float] = 30.0) -> List[ConsumerGroupListing]:
        """Every group of every broker (classic and consumer)."""
        return [
            ConsumerGroupListing(group_id, state, gtype, protocol)
            for group_id, protocol, state, gtype in self._native.list_groups(timeout)
        ]

    def describe_consumer_groups(
        self, group_ids: Sequence[str], timeout: Optional[float] = 30.0
    ) -> Dict[str, ConsumerGroupDescription]:
        """The groups by id: state, assignor, epoch and members with their assignments."""
        from ._client import TopicPartition

        out: Dict[str, ConsumerGroupDescription] = {}
        for gid, gtype, state, assignor, epoch, members in self._native.describe_groups(
                list(group_ids), timeout):
            described = [
                MemberDescription(member_id, client_id, host, instance_id,
                                  [TopicPartition(t, p) for t, p in assignment])
                for member_id, instance_id, client_id, host, _epoch, assignment in members
            ]
            out[gid] = ConsumerGroupDescription(gid, gtype, state, assignor, epoch, described)
        return out

    def list_consumer_group_offsets(
        self, group_id: str, timeout: Optional[float] = 30.0
    ) -> List["TopicPartition"]:
        """Every committed offset of the group, sorted by topic and partition."""
        from ._client import TopicPartition

        return [TopicPartition(*o) for o in self._native.list_group_offsets(group_id, timeout)]

    def alter_consumer_group_offsets(
        self, group_id: str, partitions: Sequence["PartitionLike"], timeout: Optional[float] = 30.0
    ) -> None:
        """Sets the group's committed offsets (each partition's ``offset``: the next to read).
        The group must have no members (the broker refuses it with ``UNKNOWN_MEMBER_ID``)."""
        from ._client import _tp

        offsets = [(t.topic, t.partition, t.offset) for t in map(_tp, partitions)]
        self._native.alter_group_offsets(group_id, offsets, timeout)

    def delete_consumer_group_offsets(
        self, group_id: str, partitions: Sequence["PartitionLike"], timeout: Optional[float] = 30.0
    ) -> None:
        """Deletes the group's committed offsets of these partitions (refused for topics the
        group consumes now)."""
        from ._client import _tp

        self._native.delete_group_offsets(
            group_id, [(t.topic, t.partition) for t in map(_tp, partitions)], timeout)

    def delete_consumer_groups(self, group_ids: Sequence[str], timeout: Optional[float] = 30.0) -> None:
        """Deletes groups and their committed offsets; a group with members is refused
        (``NON_EMPTY_GROUP``)."""
        self._native.delete_groups(list(group_ids), timeout)

    def list_consumer_group_lag(
        self, group_id: str, topics: Sequence[str] = (), timeout: Optional[float] = 30.0
    ) -> List[PartitionLag]:
        """Lag of every partition the group has committed offsets for, plus every partition of
        ``topics``, sorted by topic and partition."""
        return [PartitionLag(*lag) for lag in self._native.group_lag(group_id, list(topics), timeout)]

    # ACLs

    def create_acls(self, acls: Sequence[AclBinding], timeout: Optional[float] = 30.0) -> None:
        """Creates ACLs; an unknown name (operation, type, ...) raises ``_INVALID_ARG``."""
        self._native.create_acls(
            [(a.restype, a.name, a.resource_pattern_type, a.principal, a.host, a.operation,
              a.permission_type) for a in acls], timeout)

    def describe_acls(
        self, acl_filter: AclBindingFilter = AclBindingFilter(), timeout: Optional[float] = 30.0
    ) -> List[AclBinding]:
        """The ACLs matching the filter (every ACL by default)."""
        return [_acl(a) for a in self._native.describe_acls(_acl_filter(acl_filter), timeout)]

    def delete_acls(
        self, filters: Sequence[AclBindingFilter], timeout: Optional[float] = 30.0
    ) -> List[AclBinding]:
        """Deletes the ACLs matching any filter; returns the ACLs deleted."""
        return [_acl(a) for a in self._native.delete_acls([_acl_filter(f) for f in filters], timeout)]

    # SCRAM users

    def describe_user_scram_credentials(
        self, users: Optional[Sequence[str]] = None, timeout: Optional[float] = 30.0
    ) -> Dict[str, List[ScramCredentialInfo]]:
        """SCRAM users (every one, or ``users``) with their mechanisms and iterations."""
        got = self._native.describe_scram_users(None if users is None else list(users), timeout)
        return {user: [ScramCredentialInfo(*i) for i in infos] for user, infos in got}

    def alter_user_scram_credentials(
        self, alterations: Sequence[_ScramAlteration], timeout: Optional[float] = 30.0
    ) -> None:
        """Applies upsertions and deletions in order; the first failure raises."""
        for a in alterations:
            if isinstance(a, UserScramCredentialUpsertion):
                self._native.upsert_scram_user(a.user, a.mechanism, a.password, a.iterations, timeout)
            elif isinstance(a, UserScramCredentialDeletion):
                self._native.delete_scram_user(a.user, a.mechanism, timeout)
            else:
                raise TypeError(f"not a SCRAM credential alteration: {type(a).__name__}")
