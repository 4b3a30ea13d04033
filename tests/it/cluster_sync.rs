//! The istiod sync poller against the sandbox, with the real kube client: the seed's
//! cluster through a port-forward, a 1.9 istiod through the pod proxy when port-forward is
//! forbidden, a 1.23 istiod only through port-forward, a replica replaced mid-run, and
//! `meshtop proxy-status` run as a process.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::common::harness::{self, ADMIN_CONTEXT, RESTRICTED_CONTEXT};
use crate::common::process::{self, Run};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, ListParams};
use meshtop::cluster::sync::{self, SyncOptions, VIA_POD_PROXY, VIA_PORT_FORWARD};
use meshtop::cluster::{self, Connection, SyncHandle};
use meshtop::model::sync::{ReplicaState, ReplicaSync, SyncState, XdsType};
use meshtop::model::{ClusterEvent, Stamped, syncz};
use meshtop_sandbox::Sandbox;
use tokio::sync::mpsc;

/// How long any one condition may take to come true.
const WAIT: Duration = Duration::from_secs(30);

/// A sandbox from a scenario file, meshtop's connection to it as `context`, and the poller
/// started on that connection.
async fn polled(scenario: &str, context: &str) -> (Sandbox, Connection, Polled) {
    let sandbox = harness::start_file(scenario).await.expect("sandbox");
    let conn = harness::connection(&sandbox, context)
        .await
        .expect("connects");
    let polled = Polled::start(&conn);
    (sandbox, conn, polled)
}

/// The poller's events applied as the model would: each replica's latest answer.
struct Polled {
    rx: mpsc::Receiver<Stamped>,
    latest: BTreeMap<String, ReplicaSync>,
    gone: Vec<String>,
    poller: SyncHandle,
}

impl Polled {
    fn start(conn: &Connection) -> Self {
        Self::start_with(
            conn,
            SyncOptions {
                interval: Duration::from_millis(200),
                ..SyncOptions::default()
            },
        )
    }

    fn start_with(conn: &Connection, opts: SyncOptions) -> Self {
        let (tx, rx) = mpsc::channel(64);
        Self {
            rx,
            latest: BTreeMap::new(),
            gone: Vec::new(),
            poller: cluster::spawn_sync_poller(conn, opts, tx),
        }
    }

    /// Applies events until `done` holds, failing with `what` and the last answers at the
    /// deadline.
    async fn until(&mut self, what: &str, done: impl Fn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done(self) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(Stamped { event, .. })) => match event {
                    ClusterEvent::ProxySync(r) => {
                        self.latest.insert(r.istiod.to_string(), r);
                    }
                    ClusterEvent::ProxySyncUnchanged { istiod, .. } => {
                        assert!(
                            self.latest.contains_key(istiod.as_ref()),
                            "{istiod} answered unchanged before answering"
                        );
                    }
                    ClusterEvent::ProxySyncGone { istiod, namespace } => {
                        assert_eq!(namespace.as_ref(), "istio-system");
                        self.latest.remove(istiod.as_ref());
                        self.gone.push(istiod.to_string());
                    }
                    other => panic!("the poller sent {other:?}"),
                },
                Ok(None) => panic!("the poller stopped"),
                Err(_) => panic!(
                    "not within {WAIT:?}: {what}; gone: {:?}; discovery: {:?}; latest: {:#?}",
                    self.gone,
                    *self.poller.discovery().borrow(),
                    self.summary()
                ),
            }
        }
    }

    fn summary(&self) -> Vec<String> {
        self.latest
            .values()
            .map(|r| match &r.state {
                ReplicaState::Ok { via, proxies } => format!(
                    "{} ({}) ok via {via}: {:?}",
                    r.istiod,
                    r.revision,
                    proxies
                        .iter()
                        .map(|p| format!(
                            "{} {:?}",
                            p.proxy,
                            XdsType::ALL.map(|t| p.state(t).label())
                        ))
                        .collect::<Vec<_>>()
                ),
                other => format!("{} ({}) {other:?}", r.istiod, r.revision),
            })
            .collect()
    }

    fn of_revision(&self, revision: &str) -> Vec<&ReplicaSync> {
        self.latest
            .values()
            .filter(|r| r.revision.as_ref() == revision)
            .collect()
    }

    fn all_ok(&self, revision: &str, replicas: usize) -> bool {
        let rs = self.of_revision(revision);
        rs.len() == replicas
            && rs
                .iter()
                .all(|r| matches!(r.state, ReplicaState::Ok { .. }))
    }

    /// Every proxy the replicas of a revision report.
    fn proxies(&self, revision: &str) -> BTreeSet<String> {
        syncz::merge(self.of_revision(revision))
            .into_iter()
            .map(|r| r.status.proxy.to_string())
            .collect()
    }

    /// Each proxy of a revision with its states, CDS to ECDS.
    fn states(&self, revision: &str) -> BTreeMap<String, [&'static str; 5]> {
        syncz::merge(self.of_revision(revision))
            .iter()
            .map(|r| {
                (
                    r.status.proxy.to_string(),
                    XdsType::ALL.map(|t| r.status.state(t).label()),
                )
            })
            .collect()
    }
}

fn via(r: &ReplicaSync) -> &'static str {
    match r.state {
        ReplicaState::Ok { via, .. } => via,
        _ => "",
    }
}

const ISTIOD_A: &str = "istiod-1-9-1-58ff56d6f8-dftbh";
const ISTIOD_B: &str = "istiod-1-9-1-58ff56d6f8-25z28";
const GATEWAY: &str = "1.10-alpha.f88f93ff2b8172b37c83d6066363d76b4477bd2d";
const SIDECAR: &str = "1.10-alpha.ba8228cc703fa11542c3e97c1702688d072152a1";

/// The seed's `istioctl proxy-status`: proxy, istiod, CDS LDS EDS RDS, version.
const SEED: [(&str, &str, [&str; 4], &str); 11] = [
    (
        "api-gateway-6f87d9477f-xg5dq.default",
        ISTIOD_A,
        ["SYNCED"; 4],
        SIDECAR,
    ),
    (
        "details-v1-6f769b44-hzj8v.default",
        ISTIOD_B,
        ["SYNCED"; 4],
        SIDECAR,
    ),
    (
        "istio-egressgateway-66cb5c46c7-c9q4b.istio-system",
        ISTIOD_A,
        ["SYNCED", "SYNCED", "SYNCED", "NOT SENT"],
        GATEWAY,
    ),
    (
        "istio-egressgateway-66cb5c46c7-qjrwj.istio-system",
        ISTIOD_B,
        ["SYNCED", "SYNCED", "SYNCED", "NOT SENT"],
        GATEWAY,
    ),
    (
        "istio-ingressgateway-684d9c7755-brtsv.istio-system",
        ISTIOD_B,
        ["SYNCED"; 4],
        GATEWAY,
    ),
    (
        "istio-ingressgateway-684d9c7755-dvtrd.istio-system",
        ISTIOD_A,
        ["SYNCED"; 4],
        GATEWAY,
    ),
    (
        "istio-ingressgateway-istio-gateway-sample-6d6998fc44-rnfnr.istio-gateway-sample",
        ISTIOD_A,
        ["SYNCED"; 4],
        GATEWAY,
    ),
    (
        "istio-ingressgateway-istio-gateway-sample-6d6998fc44-twcqp.istio-gateway-sample",
        ISTIOD_B,
        ["SYNCED"; 4],
        GATEWAY,
    ),
    (
        "productpage-v1-6b746f74dc-9stvs.default",
        ISTIOD_A,
        ["SYNCED"; 4],
        SIDECAR,
    ),
    (
        "ratings-v1-b6994bb9-ltxkz.default",
        ISTIOD_A,
        ["SYNCED"; 4],
        SIDECAR,
    ),
    (
        "reviews-v1-545db77b95-qvbm7.default",
        ISTIOD_B,
        ["SYNCED", "SYNCED", "STALE", "SYNCED"],
        SIDECAR,
    ),
];

#[tokio::test]
async fn the_seeds_cluster_through_the_poller() {
    let (_sandbox, _conn, mut polled) =
        polled("assets/scenarios/k1-upgrade.yaml", ADMIN_CONTEXT).await;
    polled
        .until("both 1-9-1 replicas answer", |p| p.all_ok("1-9-1", 2))
        .await;
    assert_eq!(
        polled.latest.keys().collect::<Vec<_>>(),
        [ISTIOD_B, ISTIOD_A],
        "the 1.4 control plane's pilot is no istiod"
    );
    for r in polled.latest.values() {
        assert_eq!(via(r), VIA_PORT_FORWARD, "{}", r.istiod);
        assert_eq!(r.namespace.as_ref(), "istio-system");
    }
    let rows = syncz::merge(polled.latest.values());
    let got: Vec<(&str, &str, [&str; 4], &str)> = rows
        .iter()
        .map(|r| {
            let s = &r.status;
            (
                s.proxy.as_ref(),
                r.istiod.as_ref(),
                [XdsType::Cds, XdsType::Lds, XdsType::Eds, XdsType::Rds]
                    .map(|t| s.state(t).label()),
                s.version.as_ref(),
            )
        })
        .collect();
    assert_eq!(got, SEED);
    for r in &rows {
        let s = &r.status;
        // A 1.9 istiod reports no ECDS, which istioctl's HTTP path shows NOT SENT.
        assert_eq!(s.state(XdsType::Ecds), SyncState::NotSent, "{}", s.proxy);
        assert_eq!(format!("{}.{}", s.pod, s.namespace), s.proxy.as_ref());
        assert_eq!(s.cluster.as_ref(), "", "1.9 has no cluster_id");
    }

    // The forward is kept between polls: more answers arrive, the same bytes, which are
    // not read again.
    for _ in 0..4 {
        let event = tokio::time::timeout(WAIT, polled.rx.recv())
            .await
            .expect("another poll in time")
            .expect("poller running");
        let ClusterEvent::ProxySyncUnchanged { istiod, .. } = event.event else {
            panic!("a stable answer sent again in full: {:?}", event.event)
        };
        assert!(polled.latest.contains_key(istiod.as_ref()), "{istiod}");
    }
}

/// Pods with a proxy, by proxy name, as istiod names them.
async fn proxied_pods(conn: &Connection) -> BTreeSet<String> {
    let pods: Api<Pod> = Api::all(conn.client.clone());
    pods.list(&ListParams::default())
        .await
        .expect("list pods")
        .items
        .iter()
        .filter(|p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                && p.spec
                    .as_ref()
                    .is_some_and(|s| s.containers.iter().any(|c| c.name == "istio-proxy"))
        })
        .map(|p| {
            format!(
                "{}.{}",
                p.metadata.name.as_deref().unwrap_or(""),
                p.metadata.namespace.as_deref().unwrap_or("")
            )
        })
        .collect()
}

/// small.yaml: istiod 1.9.1 (revision 1-9-1, one replica, no proxies) and 1.23.0
/// (canary, two replicas) with a gateway and five shop pods.
#[tokio::test]
async fn a_1_23_istiod_answers_through_port_forward_only() {
    let (_sandbox, conn, mut polled) = polled("assets/scenarios/small.yaml", ADMIN_CONTEXT).await;
    polled
        .until(
            "every replica answers; six canary proxies, settled as pinned",
            |p| {
                let states = p.states("canary");
                p.all_ok("1-9-1", 1)
                    && p.all_ok("canary", 2)
                    && states.len() == 6
                    && states.iter().all(|(proxy, s)| {
                        if proxy.starts_with("istio-ingressgateway-") {
                            // Pinned in the scenario, through the 1.23 `resources` map.
                            s == &[
                                "SYNCED",
                                "SYNCED",
                                "STALE (Never Acknowledged)",
                                "NOT SENT",
                                "SYNCED",
                            ]
                        } else {
                            s == &["SYNCED"; 5]
                        }
                    })
            },
        )
        .await;
    assert_eq!(polled.proxies("canary"), proxied_pods(&conn).await);
    assert!(polled.proxies("1-9-1").is_empty());
    for r in polled.latest.values() {
        assert_eq!(via(r), VIA_PORT_FORWARD, "{}", r.istiod);
    }
    for row in syncz::merge(polled.of_revision("canary")) {
        let s = &row.status;
        assert_eq!(s.version.as_ref(), "1.23.0");
        assert_eq!(s.cluster.as_ref(), "Kubernetes");
        // The 1.23 `resources` map: a send time per type that was sent.
        assert!(
            s.xds
                .iter()
                .all(|x| x.sent_time.is_some() != x.sent.is_empty()),
            "{s:?}"
        );
    }

    // What the poller did not use: the pod proxy, which a 1.23 istiod refuses.
    let canary = polled.of_revision("canary")[0].istiod.to_string();
    let request = http::Request::get(format!(
        "/api/v1/namespaces/istio-system/pods/{canary}:15014/proxy/debug/syncz"
    ))
    .body(Vec::new())
    .expect("request");
    match conn.poll_client.request_text(request).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 401, "{s:?}"),
        other => panic!("the pod proxy should get 401 from istiod 1.23: {other:?}"),
    }
}

#[tokio::test]
async fn forbidden_port_forward_names_the_permission_and_1_9_falls_back_to_the_pod_proxy() {
    let (_sandbox, _conn, mut polled) =
        polled("assets/scenarios/small.yaml", RESTRICTED_CONTEXT).await;
    polled
        .until(
            "1-9-1 answers and both canary replicas are forbidden",
            |p| {
                p.all_ok("1-9-1", 1)
                    && p.of_revision("canary").len() == 2
                    && p.of_revision("canary")
                        .iter()
                        .all(|r| matches!(r.state, ReplicaState::Forbidden { .. }))
            },
        )
        .await;
    let old = polled.of_revision("1-9-1")[0];
    assert_eq!(via(old), VIA_POD_PROXY);
    for r in polled.of_revision("canary") {
        let ReplicaState::Forbidden { message } = &r.state else {
            unreachable!()
        };
        assert_eq!(message, &sync::portforward_forbidden("istio-system"));
        assert!(message.contains("create pods/portforward"), "{message}");
    }
}

#[tokio::test]
async fn a_replica_replaced_mid_run_is_gone_and_its_proxies_reconnect() {
    let (_sandbox, conn, mut polled) = polled("assets/scenarios/small.yaml", ADMIN_CONTEXT).await;
    polled
        .until("both canary replicas hold the six proxies", |p| {
            p.all_ok("canary", 2) && p.proxies("canary").len() == 6
        })
        .await;
    let proxies = polled.proxies("canary");
    let before: BTreeSet<String> = polled
        .of_revision("canary")
        .iter()
        .map(|r| r.istiod.to_string())
        .collect();
    let victim = before.iter().next().cloned().expect("a replica");
    let survivor = before.iter().nth(1).cloned().expect("two replicas");

    let pods: Api<Pod> = Api::namespaced(conn.client.clone(), "istio-system");
    pods.delete(&victim, &DeleteParams::default())
        .await
        .expect("delete istiod pod");
    polled
        .until("the deleted replica is gone", |p| p.gone.contains(&victim))
        .await;
    assert!(!polled.latest.contains_key(&victim));
    polled
        .until(
            "the new replica answers and every proxy is back under a live replica",
            |p| {
                let names: BTreeSet<&str> = p
                    .of_revision("canary")
                    .iter()
                    .map(|r| r.istiod.as_ref())
                    .collect();
                names.len() == 2
                    && names.contains(survivor.as_str())
                    && !names.contains(victim.as_str())
                    && p.all_ok("canary", 2)
                    && p.proxies("canary") == proxies
            },
        )
        .await;
    assert_eq!(polled.gone, [victim], "only the deleted replica went");
    assert!(
        polled.all_ok("1-9-1", 1),
        "the other revision was untouched"
    );
}

/// `meshtop proxy-status ARGS --demo`.
fn proxy_status(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    process::run(
        process::meshtop()
            .arg("proxy-status")
            .args(args)
            .arg("--demo")
            .env("MESHTOP_LOG_FILE", dir.path().join("meshtop.log"))
            .env_remove("MESHTOP_OUTPUT")
            .env_remove("MESHTOP_REVISION")
            .env_remove("MESHTOP_CONTEXT")
            .env_remove("MESHTOP_DEMO"),
    )
}

#[test]
fn proxy_status_prints_the_seeds_table() {
    let out = proxy_status(&[]);
    assert_eq!(out.code, Some(0), "{out}");
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    // Every replica answered; the only words on stderr flag the seed's version skew, which
    // istioctl's table has no column for.
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "warning: version skew: 5 proxies run 1.10-alpha.ba8228cc703fa11542c3e97c1702688d072152a1 against istiod 1.9.1",
            "warning: version skew: 6 proxies run 1.10-alpha.f88f93ff2b8172b37c83d6066363d76b4477bd2d against istiod 1.9.1",
        ],
        "{stderr}"
    );
    let lines: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| {
            l.split("     ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(
        lines[0],
        [
            "NAME", "CLUSTER", "CDS", "LDS", "EDS", "RDS", "ECDS", "ISTIOD", "VERSION"
        ],
        "{stdout}"
    );
    assert_eq!(lines.len(), 12, "{stdout}");
    // No CLUSTER from a 1.9 istiod: eight cells per row.
    let rows: Vec<(&str, &str, [&str; 4], &str)> = lines[1..]
        .iter()
        .map(|l| {
            assert_eq!(l.len(), 8, "{l:?}");
            assert_eq!(l[5], "NOT SENT", "ECDS: {l:?}");
            (l[0], l[6], [l[1], l[2], l[3], l[4]], l[7])
        })
        .collect();
    assert_eq!(rows, SEED, "{stdout}");
    assert!(
        stdout.lines().any(
            |l| l.starts_with("istio-egressgateway-66cb5c46c7-c9q4b.istio-system ")
                && l.contains(" NOT SENT ")
                && l.contains(" istiod-1-9-1-58ff56d6f8-dftbh ")
        ),
        "{stdout}"
    );
}

#[test]
fn proxy_status_json_and_revision_filter() {
    let out = proxy_status(&["-o", "json", "--revision", "1-9-1"]);
    assert_eq!(out.code, Some(0), "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let rows = doc.as_array().expect("array");
    assert_eq!(rows.len(), 11);
    let reviews = rows
        .iter()
        .find(|r| r["proxy"] == "reviews-v1-545db77b95-qvbm7.default")
        .expect("reviews-v1");
    assert_eq!(reviews["istiod"], ISTIOD_B);
    assert_eq!(reviews["revision"], "1-9-1");
    assert_eq!(reviews["pod"], "reviews-v1-545db77b95-qvbm7");
    assert_eq!(reviews["namespace"], "default");
    assert_eq!(reviews["xds"]["EDS"]["state"], "STALE");
    assert_ne!(
        reviews["xds"]["EDS"]["sent"],
        reviews["xds"]["EDS"]["acked"]
    );

    let out = proxy_status(&["--revision", "canary"]);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stderr.contains(
            "no running istiod pods (app=istiod,istio.io/rev=canary) in namespace istio-system"
        ),
        "{out}"
    );
}

/// A cluster of one node and the istiod pods given as (name, annotations as a YAML flow
/// map, image tag, pod IP): Running and Ready, with no istio.io/rev label.
fn istiods(pods: &[(&str, &str, &str, &str)]) -> String {
    let mut yaml = String::from(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: kube-system}\n---\n\
         apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}\n---\n\
         apiVersion: v1\nkind: Node\nmetadata: {name: node-1}\n\
         status:\n  conditions: [{type: Ready, status: \"True\"}]\n",
    );
    for (name, annotations, tag, ip) in pods {
        let since = "2026-01-01T00:00:00Z";
        yaml.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  \
             namespace: istio-system\n  labels: {{app: istiod}}\n  annotations: {annotations}\n\
             spec:\n  nodeName: node-1\n  \
             containers: [{{name: discovery, image: docker.io/istio/pilot:{tag}}}]\n\
             status:\n  phase: Running\n  podIP: {ip}\n  startTime: \"{since}\"\n  \
             conditions: [{{type: Ready, status: \"True\", lastTransitionTime: \"{since}\"}}]\n"
        ));
    }
    yaml
}

/// An istiod whose scrape annotation names a port nothing listens on: the port-forward
/// reports the refused port, the pod proxy fails too, and the replica is Unreachable with
/// both reasons.
#[tokio::test]
async fn an_istiod_that_cannot_be_reached_says_why() {
    let scenario = istiods(&[(
        "istiod-7d9c6b5f4-x2k8m",
        "{prometheus.io/port: \"9999\"}",
        "1.9.1",
        "10.233.64.10",
    )]);
    let sandbox = harness::start_text(&scenario).await.expect("sandbox");
    let conn = harness::connection(&sandbox, ADMIN_CONTEXT)
        .await
        .expect("connects");
    let mut polled = Polled::start(&conn);
    polled
        .until("the replica is unreachable", |p| {
            p.latest
                .values()
                .any(|r| matches!(r.state, ReplicaState::Unreachable { .. }))
        })
        .await;
    let r = &polled.latest["istiod-7d9c6b5f4-x2k8m"];
    assert_eq!(r.revision.as_ref(), "default", "no istio.io/rev label");
    let ReplicaState::Unreachable { message } = &r.state else {
        unreachable!()
    };
    assert!(
        message.contains("error forwarding port 9999") && message.contains("pod proxy: "),
        "{message}"
    );
    assert!(message.contains("connection refused"), "{message}");
}

/// A replica too slow for the timeout is unreachable with the port-forward's reason first,
/// not "refused" for the 401 its pod proxy fallback gets; a replica slower than nothing but
/// within the timeout answers.
#[tokio::test]
async fn a_slow_istiod_is_named_slow_not_refused() {
    // Two 1.23 replicas, one answering `/debug/syncz` in 300 ms and one in 30 s.
    let scenario = istiods(&[
        (
            "istiod-busy",
            "{sandbox.meshtop.dev/syncz-delay: 30s}",
            "1.23.2",
            "10.233.64.10",
        ),
        (
            "istiod-quick",
            "{sandbox.meshtop.dev/syncz-delay: 300ms}",
            "1.23.2",
            "10.233.64.11",
        ),
    ]);
    let sandbox = harness::start_text(&scenario).await.expect("sandbox");
    let conn = harness::connection(&sandbox, ADMIN_CONTEXT)
        .await
        .expect("connects");
    let mut polled = Polled::start_with(
        &conn,
        SyncOptions {
            interval: Duration::from_millis(200),
            timeout: Duration::from_secs(2),
            ..SyncOptions::default()
        },
    );
    polled
        .until("the busy replica fails and the quick one answers", |p| {
            p.latest
                .get("istiod-busy")
                .is_some_and(|r| !matches!(r.state, ReplicaState::Ok { .. }))
                && p.latest
                    .get("istiod-quick")
                    .is_some_and(|r| via(r) == VIA_PORT_FORWARD)
        })
        .await;
    let busy = &polled.latest["istiod-busy"].state;
    let ReplicaState::Unreachable { message } = busy else {
        panic!("a slow replica is unreachable, not {busy:?}");
    };
    assert!(
        message.starts_with("no answer through the port-forward within 2s; pod proxy: "),
        "{message}"
    );
    assert!(message.contains("istiod answered 401"), "{message}");
}
