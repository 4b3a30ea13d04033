//! Proxy sync events in, proxy rows, totals and findings out: the seed's two istiod
//! replicas, replicas sharing a proxy, one going unreachable and coming back, one going
//! away, pods no replica reports, and proxies whose pod is gone. Every case ends with the
//! incremental aggregates checked against ones rebuilt from scratch.

use jiff::Timestamp;

use super::super::super::fixture::*;
use super::super::super::sync::{
    ProxyStatus, ReplicaState, ReplicaSync, SentTime, SyncState, Text, XdsStatus, XdsType,
};
use super::super::super::*;
use super::skewed;

const A: &str = "istiod-1-9-1-58ff56d6f8-25z28";
const B: &str = "istiod-1-9-1-58ff56d6f8-dftbh";
const GATEWAY_BUILD: &str = "1.10-alpha.f88f93ff2b8172b37c83d6066363d76b4477bd2d";
const APP_BUILD: &str = "1.10-alpha.ba8228cc703fa11542c3e97c1702688d072152a1";

use SyncState::{NotSent, Stale, Synced};

fn xds(state: SyncState, n: usize) -> XdsStatus {
    let nonce = |s: &str| Text::from(format!("{s}-{n}").as_str());
    let (sent, acked) = match state {
        Synced => (nonce("v"), nonce("v")),
        NotSent => (Text::default(), Text::default()),
        SyncState::StaleNeverAcknowledged => (nonce("v"), Text::default()),
        _ => (nonce("v2"), nonce("v1")),
    };
    XdsStatus::new(state, sent, acked)
}

fn n_(s: &str) -> Name {
    Name::from(s)
}

/// A 1.9-shaped report: no cluster, no type, no ECDS (NOT SENT); CDS LDS EDS RDS as given.
fn proxy(namespace: &str, pod: &str, version: &str, states: [SyncState; 4]) -> ProxyStatus {
    let [cds, lds, eds, rds] = states;
    ProxyStatus {
        proxy: n_(&format!("{pod}.{namespace}")),
        pod: n_(pod),
        namespace: n_(namespace),
        cluster: n_(""),
        proxy_type: n_(""),
        version: n_(version),
        xds: [
            xds(cds, 1),
            xds(lds, 2),
            xds(eds, 3),
            xds(rds, 4),
            xds(NotSent, 5),
            XdsStatus::ignored(),
            XdsStatus::ignored(),
        ],
    }
}

fn synced(namespace: &str, pod: &str, version: &str) -> ProxyStatus {
    proxy(namespace, pod, version, [Synced; 4])
}

fn replica(istiod: &str, state: ReplicaState) -> ClusterEvent {
    ClusterEvent::ProxySync(ReplicaSync {
        namespace: n_("istio-system"),
        istiod: n_(istiod),
        revision: n_("1-9-1"),
        state,
    })
}

fn ok(istiod: &str, proxies: Vec<ProxyStatus>) -> ClusterEvent {
    replica(
        istiod,
        ReplicaState::Ok {
            via: "port-forward",
            proxies,
        },
    )
}

fn unreachable(istiod: &str) -> ClusterEvent {
    replica(
        istiod,
        ReplicaState::Unreachable {
            message: "port-forward to 15014: connection refused".into(),
        },
    )
}

fn gone(istiod: &str) -> ClusterEvent {
    ClusterEvent::ProxySyncGone {
        namespace: n_("istio-system"),
        istiod: n_(istiod),
    }
}

fn later(secs: i64) -> Timestamp {
    at() + jiff::SignedDuration::from_secs(secs)
}

/// The seed's `istioctl proxy-status`, per replica (`assets/scenarios/k1-upgrade.yaml`).
fn seed_replicas() -> (Vec<ProxyStatus>, Vec<ProxyStatus>) {
    let sys = "istio-system";
    let sample = "istio-gateway-sample";
    let a = vec![
        synced(sys, "istio-ingressgateway-684d9c7755-brtsv", GATEWAY_BUILD),
        proxy(
            sys,
            "istio-egressgateway-66cb5c46c7-qjrwj",
            GATEWAY_BUILD,
            [Synced, Synced, Synced, NotSent],
        ),
        synced(
            sample,
            "istio-ingressgateway-istio-gateway-sample-6d6998fc44-twcqp",
            GATEWAY_BUILD,
        ),
        synced("default", "details-v1-6f769b44-hzj8v", APP_BUILD),
        proxy(
            "default",
            "reviews-v1-545db77b95-qvbm7",
            APP_BUILD,
            [Synced, Synced, Stale, Synced],
        ),
    ];
    let b = vec![
        synced(sys, "istio-ingressgateway-684d9c7755-dvtrd", GATEWAY_BUILD),
        proxy(
            sys,
            "istio-egressgateway-66cb5c46c7-c9q4b",
            GATEWAY_BUILD,
            [Synced, Synced, Synced, NotSent],
        ),
        synced(
            sample,
            "istio-ingressgateway-istio-gateway-sample-6d6998fc44-rnfnr",
            GATEWAY_BUILD,
        ),
        synced("default", "api-gateway-6f87d9477f-xg5dq", APP_BUILD),
        synced("default", "productpage-v1-6b746f74dc-9stvs", APP_BUILD),
        synced("default", "ratings-v1-b6994bb9-ltxkz", APP_BUILD),
    ];
    (a, b)
}

/// The seed with both replicas answered.
fn synced_seed() -> Model {
    let mut m = seed();
    let (a, b) = seed_replicas();
    m.apply(stamped(ok(A, a)));
    m.apply(stamped(ok(B, b)));
    m
}

fn row<'a>(rows: &'a [ProxyRow], pod_prefix: &str) -> &'a ProxyRow {
    rows.iter()
        .find(|r| r.pod.starts_with(pod_prefix))
        .unwrap_or_else(|| panic!("no row {pod_prefix}"))
}

fn codes(m: &Model, code: &str) -> Vec<(Severity, String)> {
    m.findings()
        .into_iter()
        .filter(|f| f.code == code)
        .map(|f| (f.severity, f.message))
        .collect()
}

fn totals(pairs: &[(SyncState, u32)], unknown: u32, disconnected: u32) -> SyncTotals {
    SyncTotals {
        per_state: pairs.iter().copied().collect(),
        unknown,
        disconnected,
    }
}

/// The aggregates equal those of a model that saw the final pods and answers at once (sync
/// first, pods after, to go through the pod path), with each last-known answer replayed.
fn assert_consistent(m: &Model) {
    let mut fresh = Model::new();
    for (kind, state) in m.sources() {
        fresh.apply(stamped(ClusterEvent::Source(*kind, state.clone())));
    }
    let sync = &m.store.sync;
    for istiod in sync.replicas.keys() {
        let Some(r) = sync.answer_of(istiod, &m.store.pods) else {
            continue;
        };
        let known = sync.known.get(istiod);
        if let Some(stale) = sync.last_known_of(istiod, &m.store.pods) {
            fresh.apply(Stamped {
                at: known.map_or_else(at, |k| k.at),
                event: ClusterEvent::ProxySync(ReplicaSync {
                    state: ReplicaState::Ok {
                        via: "port-forward",
                        proxies: stale,
                    },
                    ..r.clone()
                }),
            });
        }
        fresh.apply(Stamped {
            at: known.map_or_else(at, |k| k.at),
            event: ClusterEvent::ProxySync(r.clone()),
        });
    }
    for o in objects(m) {
        fresh.apply(applied(o));
    }
    let (s, f) = (&m.store.sync, &fresh.store.sync);
    assert_eq!(s.counts, f.counts, "counts");
    let (sp, fp) = (&m.store.pods, &fresh.store.pods);
    assert_eq!(s.shown_unreported(sp), f.shown_unreported(fp), "unreported");
    assert_eq!(s.out_of_sync, f.out_of_sync, "out of sync");
    assert_eq!(
        s.gone.keys().collect::<Vec<_>>(),
        f.gone.keys().collect::<Vec<_>>(),
        "gone"
    );
    assert_eq!(s.versions, f.versions, "versions");
    assert_eq!(s.shown_reporters(sp), f.shown_reporters(fp), "reporters");
    assert_eq!(s.kept_lines(sp), f.kept_lines(fp), "lines");
    assert_eq!(s.lines_kept, f.lines_kept, "lines kept");
    assert_eq!(
        s.lines_with_cluster, f.lines_with_cluster,
        "lines with a cluster"
    );
    super::super::super::tests::assert_reads_agree(m);
    super::super::super::tests::assert_reads_agree(&fresh);
    assert_eq!(m.proxies(), fresh.proxies());
    assert_eq!(m.proxy_summary(), fresh.proxy_summary());
    assert_eq!(m.findings(), fresh.findings());
}

// --- the seed ------------------------------------------------------------------------------

#[test]
fn before_any_answer_the_model_waits() {
    let m = seed();
    assert!(m.proxies().is_empty());
    assert!(m.proxy_summary().waiting);
    assert_eq!(m.proxy("default", "details-v1-6f769b44-hzj8v"), None);
    assert!(!m.findings().iter().any(|f| f.code.starts_with("proxy-not")));
}

#[test]
fn the_seeds_proxies_joined_with_their_pods() {
    let m = synced_seed();
    let rows = m.proxies();
    assert_eq!(rows.len(), 11);
    assert!(
        rows.iter()
            .all(|r| r.connection == ProxyConnection::Connected)
    );
    // Sorted by proxy name, as istioctl does.
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_ref()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    let reviews = row(&rows, "reviews-v1");
    assert_eq!(reviews.name.as_ref(), "reviews-v1-545db77b95-qvbm7.default");
    assert_eq!(reviews.state_of(XdsType::Eds), Some(Stale));
    assert_eq!(reviews.state, Some(Stale));
    assert!(!reviews.in_sync());
    assert_eq!(reviews.istiod.as_deref(), Some(A));
    assert_eq!(reviews.istiod_revision.as_deref(), Some("1-9-1"));
    assert_eq!(reviews.istiod_version.as_deref(), Some("1.9.1"));
    assert_eq!(reviews.version.as_deref(), Some(APP_BUILD));
    assert!(reviews.version_skew, "1.10-alpha against 1.9.1");
    assert_eq!(reviews.node.as_deref(), Some("k1-node04"));
    assert_eq!(reviews.owner_kind.as_deref(), Some("ReplicaSet"));
    assert_eq!(reviews.owner_name.as_deref(), Some("reviews-v1-545db77b95"));
    assert_eq!(reviews.injected_revision.as_deref(), Some("1-9-1"));
    assert!(!reviews.pod_gone);
    assert_eq!(reviews.reported_at, Some(at()));

    // RDS NOT SENT is normal for an egress gateway: in sync.
    let egress = row(&rows, "istio-egressgateway-66cb5c46c7-c9q4b");
    assert_eq!(egress.state_of(XdsType::Rds), Some(NotSent));
    assert_eq!(egress.state, Some(Synced));
    assert!(egress.in_sync());
    assert_eq!(egress.istiod.as_deref(), Some(B));
    assert_eq!(
        row(&rows, "details-v1").state_of(XdsType::Ecds),
        Some(NotSent),
        "1.9 reports no ECDS"
    );

    let summary = m.proxy_summary();
    assert!(!summary.waiting);
    let expected = totals(&[(Synced, 10), (Stale, 1)], 0, 0);
    assert_eq!(summary.totals, expected);
    assert_eq!(summary.per_revision.get("1-9-1"), Some(&expected));
    assert_eq!(
        summary.versions.into_iter().collect::<Vec<_>>(),
        vec![(n_(APP_BUILD), 5), (n_(GATEWAY_BUILD), 6)]
    );
    let replicas: Vec<_> = summary
        .replicas
        .iter()
        .map(|r| (r.istiod.as_ref(), r.state, r.proxies))
        .collect();
    assert_eq!(replicas, vec![(A, "ok", 5), (B, "ok", 6)]);

    assert_eq!(
        codes(&m, "proxy-not-synced"),
        vec![(
            Severity::Warning,
            format!("proxy reviews-v1-545db77b95-qvbm7.default: EDS STALE (istiod {A})")
        )]
    );
    let skew = codes(&m, "proxy-version-skew");
    assert_eq!(
        skew.len(),
        1,
        "the reported versions replace the image tags': {skew:?}"
    );
    assert_eq!(
        skew[0].1,
        format!(
            "11 proxies of revision 1-9-1 run 1.10 while their istiod runs 1.9.1: \
             {APP_BUILD} ×5, {GATEWAY_BUILD} ×6"
        )
    );
    assert!(codes(&m, "proxy-disconnected").is_empty());
    assert!(codes(&m, "proxy-pod-gone").is_empty());
    assert_eq!(
        m.proxy("default", "reviews-v1-545db77b95-qvbm7").as_ref(),
        Some(reviews)
    );
    let json = serde_json::to_value(&rows).expect("json");
    assert_eq!(json[0]["connection"], "connected");
    assert_consistent(&m);
}

#[test]
fn versions_skew_by_major_minor() {
    assert!(skewed(APP_BUILD, "1.9.1"));
    assert!(skewed("1.10.0", "1.9.1"));
    assert!(!skewed("1.9.0", "1.9.1"));
    assert!(!skewed("1.9-dev", "v1.9.1"));
    assert!(!skewed("latest", "1.9.1"), "unknown versions are no skew");
}

// --- replicas ----------------------------------------------------------------------------

#[test]
fn two_replicas_reporting_one_proxy_make_one_row() {
    let mut m = synced_seed();
    let (a, mut b) = seed_replicas();
    b.push(synced("default", "details-v1-6f769b44-hzj8v", APP_BUILD));
    m.apply(stamped(ok(B, b.clone())));
    let rows = m.proxies();
    assert_eq!(rows.len(), 11);
    let details = row(&rows, "details-v1");
    assert_eq!(
        details.istiod.as_deref(),
        Some(A),
        "the first istiod by name"
    );
    assert_eq!(details.also_reported_by, vec![n_(B)]);
    assert_eq!(m.proxy_summary().totals.proxies(), 11, "counted once");
    assert_consistent(&m);

    // A no longer holds it: B's report shows.
    let a: Vec<_> = a
        .into_iter()
        .filter(|p| !p.pod.starts_with("details"))
        .collect();
    m.apply(stamped(ok(A, a)));
    let rows = m.proxies();
    let details = row(&rows, "details-v1");
    assert_eq!(details.istiod.as_deref(), Some(B));
    assert!(details.also_reported_by.is_empty());
    assert_eq!(m.proxy_summary().totals.proxies(), 11);
    assert_consistent(&m);
}

#[test]
fn an_unreachable_replica_keeps_its_last_proxies_as_unknown_until_it_is_back() {
    let mut m = synced_seed();
    m.apply(Stamped {
        at: later(30),
        event: unreachable(A),
    });
    let rows = m.proxies();
    assert_eq!(rows.len(), 11, "nothing vanishes");
    let reviews = row(&rows, "reviews-v1");
    assert_eq!(reviews.connection, ProxyConnection::LastKnown);
    assert_eq!(reviews.istiod.as_deref(), Some(A));
    assert_eq!(
        reviews.state_of(XdsType::Eds),
        Some(Stale),
        "the last known states"
    );
    assert_eq!(
        reviews.reported_at,
        Some(at()),
        "from before it stopped answering"
    );
    assert!(!reviews.in_sync());
    // The other replica's proxies stay.
    assert_eq!(row(&rows, "ratings").connection, ProxyConnection::Connected);
    let summary = m.proxy_summary();
    assert_eq!(summary.totals, totals(&[(Synced, 6)], 5, 0));
    let a = &summary.replicas[0];
    assert_eq!((a.state, a.proxies), ("unreachable", 5));
    assert_eq!(
        a.message.as_deref(),
        Some("port-forward to 15014: connection refused")
    );
    assert_eq!(
        codes(&m, "istiod-unreachable"),
        vec![(
            Severity::Error,
            format!(
                "istiod istio-system/{A}: sync status unreachable: port-forward to 15014: \
                 connection refused; its 5 proxies show as unknown"
            )
        )]
    );
    assert!(
        codes(&m, "proxy-not-synced").is_empty(),
        "reviews' state is not known now"
    );
    assert!(codes(&m, "proxy-disconnected").is_empty());
    assert_consistent(&m);

    // Still unreachable, another message: still the same last proxies.
    m.apply(Stamped {
        at: later(40),
        event: replica(
            A,
            ReplicaState::Unreachable {
                message: "timed out".into(),
            },
        ),
    });
    assert_eq!(m.proxy_summary().totals, totals(&[(Synced, 6)], 5, 0));
    assert_eq!(
        row(&m.proxies(), "reviews-v1").reported_at,
        Some(at()),
        "still the last answer's time"
    );
    assert_consistent(&m);

    // Back: recovered.
    let (a, _) = seed_replicas();
    m.apply(Stamped {
        at: later(50),
        event: ok(A, a),
    });
    let rows = m.proxies();
    let reviews = row(&rows, "reviews-v1");
    assert_eq!(reviews.connection, ProxyConnection::Connected);
    assert_eq!(reviews.reported_at, Some(later(50)));
    assert_eq!(
        m.proxy_summary().totals,
        totals(&[(Synced, 10), (Stale, 1)], 0, 0)
    );
    assert!(codes(&m, "istiod-unreachable").is_empty());
    assert_consistent(&m);
}

#[test]
fn a_forbidden_replica_names_the_permission_and_its_pods_are_unknown() {
    let mut m = seed();
    let (_, b) = seed_replicas();
    let message = "meshtop may not create pods/portforward in namespace istio-system";
    m.apply(stamped(replica(
        A,
        ReplicaState::Forbidden {
            message: message.into(),
        },
    )));
    m.apply(stamped(ok(B, b)));
    let rows = m.proxies();
    assert_eq!(rows.len(), 11);
    let reviews = row(&rows, "reviews-v1");
    assert_eq!(
        reviews.connection,
        ProxyConnection::Unknown,
        "A never answered: its proxies may be connected to it"
    );
    assert_eq!(reviews.istiod, None);
    assert_eq!(
        reviews.version.as_deref(),
        Some("1.10-alpha.f2ba4b8"),
        "image tag"
    );
    assert_eq!(m.proxy_summary().totals, totals(&[(Synced, 6)], 5, 0));
    assert_eq!(
        codes(&m, "istiod-sync-forbidden"),
        vec![(
            Severity::Error,
            format!("istiod istio-system/{A}: sync status forbidden by RBAC: {message}")
        )]
    );
    assert!(codes(&m, "proxy-disconnected").is_empty());
    assert_consistent(&m);
}

#[test]
fn a_replica_not_polled_yet_leaves_its_proxies_unknown() {
    let mut m = seed();
    let (_, b) = seed_replicas();
    m.apply(stamped(ok(B, b)));
    let rows = m.proxies();
    assert_eq!(rows.len(), 11);
    assert_eq!(
        row(&rows, "reviews-v1").connection,
        ProxyConnection::Unknown,
        "A's pod runs: its first answer is on its way"
    );
    assert_eq!(m.proxy_summary().totals, totals(&[(Synced, 6)], 5, 0));
    assert!(codes(&m, "proxy-disconnected").is_empty());
    assert_consistent(&m);
}

#[test]
fn a_replica_gone_leaves_its_proxies_disconnected() {
    let mut m = synced_seed();
    m.apply(deleted(Kind::Pod, "istio-system", A));
    m.apply(stamped(gone(A)));
    let rows = m.proxies();
    assert_eq!(rows.len(), 11);
    let reviews = row(&rows, "reviews-v1");
    assert_eq!(reviews.connection, ProxyConnection::Disconnected);
    assert_eq!(reviews.state, None);
    assert!(reviews.xds.is_empty());
    assert!(!reviews.in_sync());
    assert_eq!(m.proxy_summary().totals, totals(&[(Synced, 6)], 0, 5));
    assert_eq!(
        m.proxy_summary()
            .per_revision
            .get("1-9-1")
            .map(|t| t.disconnected),
        Some(5)
    );
    let disconnected = codes(&m, "proxy-disconnected");
    assert_eq!(disconnected.len(), 1);
    assert!(
        disconnected[0]
            .1
            .starts_with("5 running pods with a proxy are connected to no istiod: "),
        "{disconnected:?}"
    );
    assert!(m.sync_replicas().len() == 1);
    assert_consistent(&m);

    // A pod that stops running is not expected to be connected.
    m.apply(applied(
        pod("default", "reviews-v1-545db77b95-qvbm7")
            .on("k1-node04")
            .injected("1-9-1", "1.10-alpha.f2ba4b8")
            .phase(summary::PodPhase::Succeeded, "Completed")
            .build(),
    ));
    assert_eq!(m.proxy_summary().totals.disconnected, 4);
    m.apply(deleted(Kind::Pod, "default", "details-v1-6f769b44-hzj8v"));
    assert_eq!(m.proxy_summary().totals.disconnected, 3);
    assert_consistent(&m);

    // The last replica gone too: back to waiting.
    m.apply(stamped(gone(B)));
    assert!(m.proxy_summary().waiting);
    assert!(m.proxies().is_empty());
}

#[test]
fn a_proxy_whose_pod_is_gone_is_flagged_until_the_pod_is_back() {
    let mut m = synced_seed();
    let (mut a, _) = seed_replicas();
    a.push(synced("default", "reviews-v1-545db77b95-old01", APP_BUILD));
    m.apply(stamped(ok(A, a)));
    let rows = m.proxies();
    let old = row(&rows, "reviews-v1-545db77b95-old01");
    assert!(old.pod_gone);
    assert_eq!(old.node, None);
    assert_eq!(
        codes(&m, "proxy-pod-gone"),
        vec![(
            Severity::Info,
            "istiod still reports 1 proxies whose pod is gone: \
             reviews-v1-545db77b95-old01.default"
                .to_string()
        )]
    );
    assert_consistent(&m);
    m.apply(applied(
        pod("default", "reviews-v1-545db77b95-old01")
            .on("k1-node01")
            .injected("1-9-1", "1.10-alpha.f2ba4b8")
            .build(),
    ));
    assert!(!row(&m.proxies(), "reviews-v1-545db77b95-old01").pod_gone);
    assert!(codes(&m, "proxy-pod-gone").is_empty());
    assert_consistent(&m);
    m.apply(deleted(Kind::Pod, "default", "reviews-v1-545db77b95-old01"));
    assert!(row(&m.proxies(), "reviews-v1-545db77b95-old01").pod_gone);
    assert_consistent(&m);
    // A new pod takes the place the gone one left in the model: each keeps its own.
    m.apply(applied(
        pod("default", "ratings-v1-b6994bb9-new02")
            .on("k1-node02")
            .injected("1-9-1", APP_BUILD)
            .build(),
    ));
    let rows = m.proxies();
    let old = row(&rows, "reviews-v1-545db77b95-old01");
    assert!(old.pod_gone);
    assert_eq!(old.istiod.as_deref(), Some(A));
    let new = row(&rows, "ratings-v1-b6994bb9-new02");
    assert!(!new.pod_gone);
    assert_eq!(new.istiod, None);
    assert_eq!(new.node.as_deref(), Some("k1-node02"));
    assert_consistent(&m);
    // Its replica stops answering (the gone proxy is last known), then answers without it.
    m.apply(stamped(unreachable(A)));
    let old = row(&m.proxies(), "reviews-v1-545db77b95-old01").clone();
    assert!(old.pod_gone);
    assert_eq!(old.connection, ProxyConnection::LastKnown);
    assert_consistent(&m);
    let (a, _) = seed_replicas();
    m.apply(stamped(ok(A, a)));
    let rows = m.proxies();
    assert!(
        !rows
            .iter()
            .any(|r| r.pod.starts_with("reviews-v1-545db77b95-old01"))
    );
    assert!(codes(&m, "proxy-pod-gone").is_empty());
    assert_consistent(&m);
}

#[test]
fn an_error_state_names_the_nack() {
    let mut m = synced_seed();
    let (mut a, _) = seed_replicas();
    let details = a
        .iter_mut()
        .find(|p| p.pod.starts_with("details"))
        .expect("details");
    details.xds[XdsType::Lds as usize] = XdsStatus {
        state: SyncState::Error,
        sent: Text::from("v9"),
        acked: Text::from("v8"),
        sent_time: SentTime::new(at()),
        last_error: Some(Text::from("listener 0.0.0.0_80: duplicate filter chain")),
    };
    m.apply(stamped(ok(A, a)));
    let rows = m.proxies();
    assert_eq!(row(&rows, "details").state, Some(SyncState::Error));
    assert!(
        codes(&m, "proxy-not-synced").contains(&(
            Severity::Warning,
            format!(
                "proxy details-v1-6f769b44-hzj8v.default: LDS ERROR (listener 0.0.0.0_80: \
                 duplicate filter chain) (istiod {A})"
            )
        )),
        "{:?}",
        codes(&m, "proxy-not-synced")
    );
    assert_eq!(
        m.proxy_summary().totals,
        totals(&[(Synced, 9), (Stale, 1), (SyncState::Error, 1)], 0, 0)
    );
    assert_consistent(&m);
}

#[test]
fn the_same_answer_again_changes_nothing_but_its_time() {
    let mut m = synced_seed();
    let generation = m.generation();
    let (a, _) = seed_replicas();
    m.apply(Stamped {
        at: later(5),
        event: ok(A, a),
    });
    assert_eq!(m.generation(), generation, "no redraw for the same answer");
    assert_eq!(row(&m.proxies(), "reviews-v1").reported_at, Some(later(5)));
}

#[test]
fn relisted_pods_move_the_lines() {
    let mut m = synced_seed();
    let lines = |m: &Model| -> Vec<(String, ProxyConnection, Option<String>, bool)> {
        m.proxy_lines()
            .iter()
            .map(|l| {
                (
                    l.pod.to_string(),
                    l.connection,
                    l.node.map(|n| n.to_string()),
                    l.pod_gone,
                )
            })
            .collect()
    };
    let before = lines(&m);
    assert_eq!(before.len(), m.proxies().len());
    // The relist lost details (still reported: its pod is gone), moved productpage to
    // k1-node02 and brought a running pod with a proxy that no replica reports.
    let mut pods: Vec<Object> = m
        .pods()
        .into_iter()
        .filter(|p| !p.name.starts_with("details"))
        .map(|mut p| {
            if p.name.starts_with("productpage") {
                p.node = Some(n_("k1-node02"));
            }
            Object::Pod(p)
        })
        .collect();
    pods.push(
        pod("default", "aaa-new-6f769b44-zzzzz")
            .on("k1-node04")
            .injected("1-9-1", APP_BUILD)
            .build(),
    );
    m.apply(stamped(ClusterEvent::Relisted(Kind::Pod, pods)));
    let after = lines(&m);
    assert_eq!(after.len(), before.len() + 1);
    let find = |pod: &str| {
        after
            .iter()
            .find(|l| l.0.starts_with(pod))
            .cloned()
            .unwrap_or_else(|| panic!("no line {pod}"))
    };
    assert_eq!(
        find("details"),
        (
            "details-v1-6f769b44-hzj8v".into(),
            ProxyConnection::Connected,
            None,
            true
        )
    );
    assert_eq!(find("productpage").2.as_deref(), Some("k1-node02"));
    assert_eq!(find("aaa-new").1, ProxyConnection::Disconnected);
    assert_eq!(after[0].0, "aaa-new-6f769b44-zzzzz", "by name");
    assert_consistent(&m);

    // The replica answers for the new pod and no longer for details.
    let (a, b) = seed_replicas();
    let a: Vec<ProxyStatus> = a
        .into_iter()
        .filter(|p| !p.pod.starts_with("details"))
        .chain([synced("default", "aaa-new-6f769b44-zzzzz", APP_BUILD)])
        .collect();
    m.apply(stamped(ok(A, a)));
    m.apply(stamped(ok(B, b)));
    let after = lines(&m);
    assert_eq!(after.len(), before.len());
    assert_eq!(after[0].1, ProxyConnection::Connected);
    assert!(!after.iter().any(|l| l.0.starts_with("details")));
    assert_consistent(&m);
}

#[test]
fn a_small_replica_changing_among_many_proxies_moves_its_lines_only() {
    // Forty pods with a proxy: replica A reports 36, replica B the other 4, so that B's
    // changes bring its few lines in step one by one rather than making all of them afresh.
    let mut m = seed();
    let mut a = Vec::new();
    let mut b = Vec::new();
    for i in 0..40 {
        let name = format!("load-{i:02}");
        m.apply(applied(
            pod("default", &name)
                .on("k1-node02")
                .injected("1-9-1", APP_BUILD)
                .build(),
        ));
        let status = synced("default", &name, APP_BUILD);
        if i % 10 == 3 {
            b.push(status)
        } else {
            a.push(status)
        }
    }
    m.apply(stamped(ok(A, a)));
    m.apply(stamped(ok(B, b.clone())));
    let lines = m.proxy_lines().len();
    assert_eq!(lines, m.proxies().len());
    assert_consistent(&m);

    m.apply(stamped(unreachable(B)));
    let shown = m.proxy_lines();
    let b_lines: Vec<ProxyConnection> = shown
        .iter()
        .filter(|l| l.pod.ends_with('3') && l.pod.starts_with("load"))
        .map(|l| l.connection)
        .collect();
    assert_eq!(b_lines, [ProxyConnection::LastKnown; 4]);
    assert_consistent(&m);

    m.apply(stamped(ok(B, b)));
    assert_consistent(&m);
    m.apply(deleted(Kind::Pod, "istio-system", B));
    m.apply(stamped(gone(B)));
    let shown = m.proxy_lines();
    assert!(
        shown
            .iter()
            .filter(|l| l.pod.starts_with("load"))
            .all(|l| l.connection
                == if l.pod.ends_with('3') {
                    ProxyConnection::Disconnected
                } else {
                    ProxyConnection::Connected
                })
    );
    assert_eq!(shown.len(), lines);
    assert_consistent(&m);
}

#[test]
fn a_pod_change_the_lines_do_not_show_leaves_the_proxy_generation() {
    let mut m = synced_seed();
    let summary = |m: &Model, ns: &str, name: &str| -> PodSummary {
        m.pod(ns, name)
            .unwrap_or_else(|| panic!("no pod {ns}/{name}"))
    };
    let (generation, proxies) = (m.generation(), m.proxy_generation());
    // A restart counted and readiness flipped: the model moves, no line does.
    let mut p = summary(&m, "default", "reviews-v1-545db77b95-qvbm7");
    p.restarts += 1;
    p.ready = !p.ready;
    m.apply(applied(Object::Pod(p.clone())));
    assert!(m.generation() > generation);
    assert_eq!(m.proxy_generation(), proxies);
    assert_eq!(m.proxy_line_changes(m.proxy_lines_moved()), Some(vec![]));
    // Moved to another node: its line shows the node, and says so by its position.
    let moved = m.proxy_lines_moved();
    let at = m
        .proxy_lines()
        .iter()
        .position(|l| l.pod.starts_with("reviews-v1"));
    p.node = Some(n("another-node"));
    m.apply(applied(Object::Pod(p)));
    assert_eq!(m.proxy_generation(), proxies);
    assert_eq!(
        m.proxy_line_changes(moved),
        at.map(|at| vec![RowChange::Changed(at)])
    );
    let line = m
        .proxy_lines()
        .iter()
        .find(|l| l.pod.starts_with("reviews-v1"))
        .and_then(|l| l.node.map(|n| n.to_string()));
    assert_eq!(line.as_deref(), Some("another-node"));
    // An istiod pod's version moves it too (a line shows the version skew), its restarts
    // do not.
    let proxies = m.proxy_generation();
    let mut istiod = summary(&m, "istio-system", A);
    istiod.restarts += 1;
    m.apply(applied(Object::Pod(istiod.clone())));
    assert_eq!(m.proxy_generation(), proxies);
    istiod.istiod_version = Some(n("1.9.2"));
    m.apply(applied(Object::Pod(istiod)));
    assert!(m.proxy_generation() > proxies);
    // So does an answer, and `-n`.
    let proxies = m.proxy_generation();
    m.apply(stamped(unreachable(A)));
    assert!(m.proxy_generation() > proxies);
    let proxies = m.proxy_generation();
    m.set_focus(Some("default"));
    assert!(m.proxy_generation() > proxies);
    assert_consistent(&m);
}
