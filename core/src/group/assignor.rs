//! Client-side assignors, run by the group leader: range, roundrobin and cooperative-sticky
//! (KIP-429: balanced, keeps owned partitions, and never hands a partition to a new owner in
//! the same rebalance its old owner still holds it — the old owner revokes it first and the
//! follow-up rebalance moves it). Names and results follow the Java assignors so mixed groups
//! agree.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::protocol::{Subscription, TopicPartitions};

/// The assignors this client implements, by protocol name.
pub const NAMES: &[&str] = &["range", "roundrobin", "cooperative-sticky"];

/// Whether a protocol rebalances incrementally (members keep partitions across rebalances).
pub fn is_cooperative(name: &str) -> bool {
    name == "cooperative-sticky"
}

/// One member as the leader sees it.
#[derive(Debug, Clone)]
pub struct MemberSubscription {
    /// The member's id from JoinGroup; the key of its entry in [`Assignments`].
    pub member_id: String,
    /// `group.instance.id` of a static member; members are ordered by it when set.
    pub instance_id: Option<String>,
    /// What the member asked for: its topics, and the partitions it owns now (cooperative).
    pub subscription: Subscription,
}

/// member id → (topic → partitions).
pub type Assignments = BTreeMap<String, BTreeMap<String, Vec<i32>>>;

/// Runs assignor `name` for `members` over topics with the given partition counts.
pub fn assign(
    name: &str,
    members: &[MemberSubscription],
    partition_counts: &HashMap<String, i32>,
) -> Assignments {
    let mut out: Assignments = members
        .iter()
        .map(|m| (m.member_id.clone(), BTreeMap::new()))
        .collect();
    match name {
        "roundrobin" => round_robin(members, partition_counts, &mut out),
        "cooperative-sticky" => cooperative_sticky(members, partition_counts, &mut out),
        _ => range(members, partition_counts, &mut out),
    }
    for parts in out.values_mut() {
        parts.retain(|_, ps| !ps.is_empty());
        for ps in parts.values_mut() {
            ps.sort_unstable();
        }
    }
    out
}

/// One member's share of [`Assignments`] as the (topic, partitions) list an [`Assignment`]
/// carries.
///
/// [`Assignment`]: super::protocol::Assignment
pub fn to_topic_partitions(a: &BTreeMap<String, Vec<i32>>) -> TopicPartitions {
    a.iter().map(|(t, p)| (t.clone(), p.clone())).collect()
}

/// Members ordered as Java orders them: by group.instance.id when set, else member id.
fn sorted_members(members: &[MemberSubscription]) -> Vec<&MemberSubscription> {
    let mut v: Vec<&MemberSubscription> = members.iter().collect();
    v.sort_by(|a, b| {
        let ka = (
            a.instance_id.is_none(),
            a.instance_id.as_ref(),
            &a.member_id,
        );
        let kb = (
            b.instance_id.is_none(),
            b.instance_id.as_ref(),
            &b.member_id,
        );
        ka.cmp(&kb)
    });
    v
}

fn subscribed_topics(members: &[MemberSubscription]) -> BTreeSet<&String> {
    members
        .iter()
        .flat_map(|m| m.subscription.topics.iter())
        .collect()
}

/// Per topic: contiguous ranges, the first `count % members` members get one extra.
fn range(members: &[MemberSubscription], counts: &HashMap<String, i32>, out: &mut Assignments) {
    let sorted = sorted_members(members);
    for topic in subscribed_topics(members) {
        let Some(&n) = counts.get(topic) else {
            continue;
        };
        let subs: Vec<&&MemberSubscription> = sorted
            .iter()
            .filter(|m| m.subscription.topics.contains(topic))
            .collect();
        if subs.is_empty() {
            continue;
        }
        let (per, extra) = (n as usize / subs.len(), n as usize % subs.len());
        let mut next = 0;
        for (i, m) in subs.iter().enumerate() {
            let take = per + usize::from(i < extra);
            let ps: Vec<i32> = (next..next + take).map(|p| p as i32).collect();
            next += take;
            out.get_mut(&m.member_id)
                .expect("every member has an entry")
                .entry(topic.clone())
                .or_default()
                .extend(ps);
        }
    }
}

/// All partitions (sorted by topic, partition) dealt in turn to the members subscribed.
fn round_robin(
    members: &[MemberSubscription],
    counts: &HashMap<String, i32>,
    out: &mut Assignments,
) {
    let sorted = sorted_members(members);
    if sorted.is_empty() {
        return;
    }
    let mut cursor = 0;
    for topic in subscribed_topics(members) {
        let Some(&n) = counts.get(topic) else {
            continue;
        };
        for p in 0..n {
            for _ in 0..sorted.len() {
                let m = sorted[cursor % sorted.len()];
                cursor += 1;
                if m.subscription.topics.contains(topic) {
                    out.get_mut(&m.member_id)
                        .expect("every member has an entry")
                        .entry(topic.clone())
                        .or_default()
                        .push(p);
                    break;
                }
            }
        }
    }
}

/// A (topic, partition) pair.
type Tp = (String, i32);

/// The previous owner of a partition: member id and the generation it owned it in.
type PreviousOwners<'a> = HashMap<Tp, (&'a str, i32)>;

/// KIP-429's cooperative-sticky: balance within one partition per member, keep what members
/// own, and hold back any partition that still has another owner.
fn cooperative_sticky(
    members: &[MemberSubscription],
    counts: &HashMap<String, i32>,
    out: &mut Assignments,
) {
    let sorted = sorted_members(members);
    if sorted.is_empty() {
        return;
    }
    let all: Vec<Tp> = subscribed_topics(members)
        .into_iter()
        .filter_map(|t| counts.get(t).map(|n| (t, *n)))
        .flat_map(|(t, n)| (0..n).map(move |p| (t.clone(), p)))
        .collect();
    let previous = previous_owners(&sorted, &all);
    let n_members = sorted.len();
    let min_quota = all.len() / n_members;
    let mut extra_slots = all.len() % n_members;
    let (mut current, taken) = keep_owned(&sorted, &previous, min_quota, &mut extra_slots);
    deal_unowned(
        &sorted,
        &all,
        &taken,
        min_quota,
        &mut extra_slots,
        &mut current,
    );
    hand_out_released(current, &previous, out);
}

/// Who owned each partition before, from the members' subscriptions.
/// Invariant: only partitions that exist and that their owner still subscribes to count; when
/// two members claim one, the higher generation wins (on a tie, the first in member order).
fn previous_owners<'a>(sorted: &[&'a MemberSubscription], all: &[Tp]) -> PreviousOwners<'a> {
    let exists: BTreeSet<&Tp> = all.iter().collect();
    let mut previous: PreviousOwners<'a> = HashMap::new();
    for m in sorted {
        for (t, ps) in &m.subscription.owned {
            if !m.subscription.topics.contains(t) {
                continue;
            }
            for p in ps {
                let key = (t.clone(), *p);
                if !exists.contains(&key) {
                    continue;
                }
                let g = m.subscription.generation;
                match previous.get(&key) {
                    Some((_, og)) if *og >= g => {}
                    _ => {
                        previous.insert(key, (m.member_id.as_str(), g));
                    }
                }
            }
        }
    }
    previous
}

/// Each member keeps its previously owned partitions up to its quota; returns what each keeps
/// and the set of all kept partitions.
/// Invariant: a quota is `min_quota`, or one more while `extra_slots` lasts, and the extra
/// slots go to the biggest previous owners first.
fn keep_owned<'a>(
    sorted: &[&'a MemberSubscription],
    previous: &PreviousOwners<'a>,
    min_quota: usize,
    extra_slots: &mut usize,
) -> (HashMap<&'a str, Vec<Tp>>, BTreeSet<Tp>) {
    let mut current: HashMap<&str, Vec<Tp>> = HashMap::new();
    let mut taken: BTreeSet<Tp> = BTreeSet::new();
    let owned_of = |id: &str| -> Vec<Tp> {
        let mut v: Vec<Tp> = previous
            .iter()
            .filter(|(_, (o, _))| *o == id)
            .map(|(k, _)| k.clone())
            .collect();
        v.sort();
        v
    };
    let mut by_owned: Vec<&&MemberSubscription> = sorted.iter().collect();
    by_owned.sort_by_key(|m| std::cmp::Reverse(owned_of(&m.member_id).len()));
    for m in by_owned {
        let owned = owned_of(&m.member_id);
        let mut quota = min_quota;
        if owned.len() > min_quota && *extra_slots > 0 {
            quota += 1;
            *extra_slots -= 1;
        }
        let keep: Vec<Tp> = owned.into_iter().take(quota).collect();
        taken.extend(keep.iter().cloned());
        current.insert(m.member_id.as_str(), keep);
    }
    (current, taken)
}

/// Deals every partition nobody kept to the least loaded subscribed member with room.
/// Invariant: a member goes past `min_quota` only by using up one of the `extra_slots`, unless
/// heterogeneous subscriptions leave no subscribed member with room.
fn deal_unowned<'a>(
    sorted: &[&'a MemberSubscription],
    all: &[Tp],
    taken: &BTreeSet<Tp>,
    min_quota: usize,
    extra_slots: &mut usize,
    current: &mut HashMap<&'a str, Vec<Tp>>,
) {
    for tp in all.iter().filter(|tp| !taken.contains(*tp)) {
        let load =
            |m: &&'a MemberSubscription| current.get(m.member_id.as_str()).map_or(0, Vec::len);
        let subscribed = || {
            sorted
                .iter()
                .filter(|m| m.subscription.topics.contains(&tp.0))
        };
        let candidate = subscribed()
            .map(|m| (load(m), m))
            .filter(|(len, _)| *len < min_quota || (*len == min_quota && *extra_slots > 0))
            .min_by_key(|(len, _)| *len)
            // Heterogeneous subscriptions can leave no member "with room": least loaded.
            .or_else(|| {
                subscribed()
                    .map(|m| (load(m), m))
                    .min_by_key(|(len, _)| *len)
            });
        if let Some((len, m)) = candidate {
            if len == min_quota && *extra_slots > 0 {
                *extra_slots -= 1;
            }
            current
                .entry(m.member_id.as_str())
                .or_default()
                .push(tp.clone());
        }
    }
}

/// Writes the planned assignment into `out`.
/// Invariant (KIP-429): a partition whose previous owner is another member still in the group
/// is left out this round; that owner revokes it, and the follow-up rebalance moves it.
fn hand_out_released(
    current: HashMap<&str, Vec<Tp>>,
    previous: &PreviousOwners<'_>,
    out: &mut Assignments,
) {
    for (member, parts) in current {
        for tp in parts {
            if previous
                .get(&tp)
                .is_some_and(|(owner, _)| *owner != member && out.contains_key(*owner))
            {
                continue;
            }
            out.get_mut(member)
                .expect("every member has an entry")
                .entry(tp.0)
                .or_default()
                .push(tp.1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, topics: &[&str], owned: &[(&str, &[i32])]) -> MemberSubscription {
        MemberSubscription {
            member_id: id.into(),
            instance_id: None,
            subscription: Subscription {
                version: 3,
                topics: topics.iter().map(|t| t.to_string()).collect(),
                owned: owned
                    .iter()
                    .map(|(t, p)| (t.to_string(), p.to_vec()))
                    .collect(),
                generation: 1,
                ..Subscription::default()
            },
        }
    }

    fn parts(a: &Assignments, m: &str) -> Vec<i32> {
        a[m].get("t").cloned().unwrap_or_default()
    }

    #[test]
    fn range_and_roundrobin_match_java() {
        let counts = HashMap::from([("t".to_string(), 5)]);
        let ms = [member("b", &["t"], &[]), member("a", &["t"], &[])];
        let r = assign("range", &ms, &counts);
        assert_eq!(
            (parts(&r, "a"), parts(&r, "b")),
            (vec![0, 1, 2], vec![3, 4])
        );
        let rr = assign("roundrobin", &ms, &counts);
        assert_eq!(
            (parts(&rr, "a"), parts(&rr, "b")),
            (vec![0, 2, 4], vec![1, 3])
        );
    }

    #[test]
    fn cooperative_sticky_keeps_owned_and_defers_moves() {
        let counts = HashMap::from([("t".to_string(), 6)]);
        // a owned everything; b is new: a keeps 3, the other 3 are revoked first (unassigned).
        let ms = [
            member("a", &["t"], &[("t", &[0, 1, 2, 3, 4, 5])]),
            member("b", &["t"], &[]),
        ];
        let first = assign("cooperative-sticky", &ms, &counts);
        assert_eq!(parts(&first, "a").len(), 3);
        assert!(parts(&first, "b").is_empty());
        // Follow-up rebalance: a owns only its 3, so b gets the rest.
        let kept = parts(&first, "a");
        let ms = [
            member("a", &["t"], &[("t", &kept)]),
            member("b", &["t"], &[]),
        ];
        let second = assign("cooperative-sticky", &ms, &counts);
        assert_eq!(parts(&second, "a"), kept);
        let mut all: Vec<i32> = parts(&second, "a");
        all.extend(parts(&second, "b"));
        all.sort();
        assert_eq!(all, vec![0, 1, 2, 3, 4, 5]);
    }
}
