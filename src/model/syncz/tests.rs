//! The parser on hand-written answers in the shapes istiod 1.9, 1.13, 1.14, 1.18 and 1.23
//! served, every state rule, merging replicas, istioctl's table, and no input panics.

use super::*;

fn one(json: &str) -> ProxyStatus {
    let mut v = parse(json.as_bytes()).expect("parses");
    assert_eq!(v.len(), 1, "{v:?}");
    v.remove(0)
}

fn states(p: &ProxyStatus) -> [&'static str; 5] {
    XdsType::ALL.map(|t| p.state(t).label())
}

/// istiod 1.9.1 (`pilot/pkg/xds/debug.go` @1.9.0): no cluster_id, no ECDS, no proxy_type;
/// nonces are the push version followed by a UUID.
const V1_9: &str = r#"[
 {"proxy":"istio-egressgateway-66cb5c46c7-c9q4b.istio-system",
  "istio_version":"1.10-alpha.f88f93ff2b8172b37c83d6066363d76b4477bd2d",
  "cluster_sent":"2021-03-01T10:00:00Z/125c3b1b2e-1b7d-4d6e-9a0f-2f1e3c4d5a6b",
  "cluster_acked":"2021-03-01T10:00:00Z/125c3b1b2e-1b7d-4d6e-9a0f-2f1e3c4d5a6b",
  "listener_sent":"2021-03-01T10:00:00Z/12a1d6e0c4-0f3e-4b2a-8c7d-6e5f4a3b2c1d",
  "listener_acked":"2021-03-01T10:00:00Z/12a1d6e0c4-0f3e-4b2a-8c7d-6e5f4a3b2c1d",
  "endpoint_sent":"2021-03-01T10:00:00Z/12f0e1d2c3-b4a5-4968-8776-655443322110",
  "endpoint_acked":"2021-03-01T10:00:00Z/12f0e1d2c3-b4a5-4968-8776-655443322110"},
 {"proxy":"reviews-v1-545db77b95-qvbm7.default",
  "istio_version":"1.10-alpha.ba8228cc703fa11542c3e97c1702688d072152a1",
  "cluster_sent":"c1","cluster_acked":"c1","listener_sent":"l1","listener_acked":"l1",
  "route_sent":"r1","route_acked":"r1","endpoint_sent":"e2","endpoint_acked":"e1"}
]"#;

#[test]
fn v1_9_shape() {
    let v = parse(V1_9.as_bytes()).expect("parses");
    assert_eq!(v.len(), 2);
    let egress = &v[0];
    assert_eq!(
        egress.proxy.as_ref(),
        "istio-egressgateway-66cb5c46c7-c9q4b.istio-system"
    );
    assert_eq!(egress.pod.as_ref(), "istio-egressgateway-66cb5c46c7-c9q4b");
    assert_eq!(egress.namespace.as_ref(), "istio-system");
    assert_eq!(egress.cluster.as_ref(), "");
    assert_eq!(egress.proxy_type.as_ref(), "");
    assert_eq!(
        egress.version.as_ref(),
        "1.10-alpha.f88f93ff2b8172b37c83d6066363d76b4477bd2d"
    );
    // No route_sent: RDS NOT SENT; no extensionconfig_* at all: ECDS NOT SENT, as
    // istioctl's HTTP path shows it.
    assert_eq!(
        states(egress),
        ["SYNCED", "SYNCED", "SYNCED", "NOT SENT", "NOT SENT"]
    );
    assert!(egress.in_sync());
    let cds = &egress.xds[XdsType::Cds as usize];
    assert_eq!(
        cds.sent.as_ref(),
        "2021-03-01T10:00:00Z/125c3b1b2e-1b7d-4d6e-9a0f-2f1e3c4d5a6b"
    );
    assert_eq!(cds.sent_time, None);
    assert_eq!(cds.last_error, None);
    let reviews = &v[1];
    assert_eq!(
        states(reviews),
        ["SYNCED", "SYNCED", "STALE", "SYNCED", "NOT SENT"]
    );
    assert!(!reviews.in_sync());
    assert_eq!(reviews.xds[XdsType::Eds as usize].sent.as_ref(), "e2");
    assert_eq!(reviews.xds[XdsType::Eds as usize].acked.as_ref(), "e1");
}

/// 1.13 adds `cluster_id`.
#[test]
fn v1_13_shape() {
    let p = one(
        r#"[{"cluster_id":"Kubernetes","proxy":"ratings-v1-b6994bb9-ltxkz.default",
        "istio_version":"1.13.4","cluster_sent":"a","cluster_acked":"a","listener_sent":"b",
        "listener_acked":"b","route_sent":"c","route_acked":"c","endpoint_sent":"d"}]"#,
    );
    assert_eq!(p.cluster.as_ref(), "Kubernetes");
    assert_eq!(p.version.as_ref(), "1.13.4");
    assert_eq!(
        states(&p),
        [
            "SYNCED",
            "SYNCED",
            "STALE (Never Acknowledged)",
            "SYNCED",
            "NOT SENT"
        ]
    );
}

/// 1.14 adds ECDS.
#[test]
fn v1_14_shape() {
    let p = one(
        r#"[{"cluster_id":"Kubernetes","proxy":"productpage-v1-6b746f74dc-9stvs.default",
        "istio_version":"1.14.6","cluster_sent":"5e0b","cluster_acked":"5e0b",
        "listener_sent":"77aa","listener_acked":"77aa","route_sent":"19c2","route_acked":"19c2",
        "endpoint_sent":"a0e1","endpoint_acked":"a0e1","extensionconfig_sent":"f00d",
        "extensionconfig_acked":"beef"}]"#,
    );
    assert_eq!(
        states(&p),
        ["SYNCED", "SYNCED", "SYNCED", "SYNCED", "STALE"]
    );
    let p = one(r#"[{"proxy":"a.b","extensionconfig_sent":"x","extensionconfig_acked":"x"}]"#);
    assert_eq!(p.state(XdsType::Ecds), SyncState::Synced);
}

/// 1.18 adds `proxy_type`; a ztunnel's types that were never sent are IGNORED.
#[test]
fn v1_18_shape() {
    let v = parse(
        br#"[{"cluster_id":"Kubernetes","proxy":"ztunnel-7xk2p.istio-system","proxy_type":"ztunnel",
        "istio_version":"1.18.2"},
        {"cluster_id":"Kubernetes","proxy":"istio-ingressgateway-5d8f9c7b6-x9z8q.istio-system",
        "proxy_type":"router","istio_version":"1.18.2","cluster_sent":"a","cluster_acked":"a",
        "listener_sent":"b","listener_acked":"b","route_sent":"c","route_acked":"c",
        "endpoint_sent":"d","endpoint_acked":"d"}]"#,
    )
    .expect("parses");
    assert_eq!(v[0].proxy_type.as_ref(), "ztunnel");
    assert_eq!(states(&v[0]), ["IGNORED"; 5]);
    assert!(v[0].in_sync());
    assert_eq!(v[1].proxy_type.as_ref(), "router");
    assert_eq!(
        states(&v[1]),
        ["SYNCED", "SYNCED", "SYNCED", "SYNCED", "NOT SENT"]
    );
    // A ztunnel type that was sent follows the ordinary rules.
    let p = one(
        r#"[{"proxy":"z.istio-system","proxy_type":"ztunnel","cluster_sent":"a","cluster_acked":"b"}]"#,
    );
    assert_eq!(p.state(XdsType::Cds), SyncState::Stale);
    assert_eq!(p.state(XdsType::Lds), SyncState::Ignored);
}

const CDS: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
const LDS: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
const EDS: &str = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
const RDS: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";

/// 1.23 adds the `resources` map, which wins over the old keys: a type missing from it is
/// IGNORED, `lastError` gives ERROR, `sentTime` is kept (Go's zero time is none).
#[test]
fn v1_23_shape() {
    let doc = json!([{
        "cluster_id": "Kubernetes",
        "proxy": "checkout-7d4b9c8f6-abcde.shop",
        "proxy_type": "sidecar",
        "istio_version": "1.23.0",
        "cluster_sent": "n1", "cluster_acked": "n1",
        "listener_sent": "n2", "listener_acked": "n2",
        "route_sent": "n3", "route_acked": "n3",
        "endpoint_sent": "n4", "endpoint_acked": "n4",
        "extensionconfig_sent": "n5", "extensionconfig_acked": "n5",
        "resources": {
            CDS: {"sent": "n1", "acked": "n1", "sentTime": "2026-08-01T10:00:00Z"},
            LDS: {"sent": "n2", "acked": "n0", "sentTime": "2026-08-01T10:00:01Z",
                  "lastError": "listener 0.0.0.0_8080: duplicate filter chain"},
            EDS: {"sent": "n4", "acked": "n3", "sentTime": "2026-08-01T10:00:02Z"},
            RDS: {"sentTime": "0001-01-01T00:00:00Z"},
            "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret":
                {"sent": "s", "acked": "s", "sentTime": "2026-08-01T10:00:00Z"},
            "type.googleapis.com/some.future.Type": {"whatever": [1, 2, 3]}
        },
        "some_future_key": {"nested": true}
    }]);
    let p = one(&doc.to_string());
    assert_eq!(
        states(&p),
        ["SYNCED", "ERROR", "STALE", "NOT SENT", "IGNORED"]
    );
    let cds = &p.xds[XdsType::Cds as usize];
    assert_eq!(
        cds.sent_time.map(SentTime::get),
        Some("2026-08-01T10:00:00Z".parse().expect("ts"))
    );
    let lds = &p.xds[XdsType::Lds as usize];
    assert_eq!(
        lds.last_error.as_deref(),
        Some("listener 0.0.0.0_8080: duplicate filter chain")
    );
    assert_eq!((lds.sent.as_ref(), lds.acked.as_ref()), ("n2", "n0"));
    assert_eq!(p.xds[XdsType::Rds as usize].sent_time, None);
    // The old keys say ECDS is synced, but the map does not list it.
    assert_eq!(p.xds[XdsType::Ecds as usize].sent.as_ref(), "n5");
    // Never acknowledged, in the map.
    let doc = json!([{"proxy": "a.b", "resources": {CDS: {"sent": "x", "sentTime": "2026-08-01T10:00:00Z"}}}]);
    assert_eq!(
        one(&doc.to_string()).state(XdsType::Cds),
        SyncState::StaleNeverAcknowledged
    );
}

#[test]
fn every_http_rule() {
    use SyncState::*;
    let cases = [
        ("", "", false, NotSent),
        ("", "", true, Ignored),
        ("", "stale-ack", false, NotSent),
        ("", "stale-ack", true, Ignored),
        ("a", "a", false, Synced),
        ("a", "a", true, Synced),
        ("a", "", false, StaleNeverAcknowledged),
        ("a", "b", false, Stale),
        ("a", "b", true, Stale),
    ];
    for (sent, acked, ztunnel, want) in cases {
        assert_eq!(
            http_state(sent, acked, ztunnel),
            want,
            "{sent:?} {acked:?} {ztunnel}"
        );
        // And through the parser, for each type's keys.
        for t in XdsType::ALL {
            let mut o = Map::new();
            o.insert("proxy".into(), json!("p.ns"));
            if ztunnel {
                o.insert("proxy_type".into(), json!("ztunnel"));
            }
            if !sent.is_empty() {
                o.insert(
                    format!("{}_sent", key_prefix(t).unwrap_or_default()),
                    json!(sent),
                );
            }
            if !acked.is_empty() {
                o.insert(
                    format!("{}_acked", key_prefix(t).unwrap_or_default()),
                    json!(acked),
                );
            }
            let p = one(&Value::Array(vec![Value::Object(o)]).to_string());
            assert_eq!(p.state(t), want, "{t:?} {sent:?} {acked:?} {ztunnel}");
        }
    }
}

#[test]
fn version_falls_back_to_proxy_version() {
    assert_eq!(
        one(r#"[{"proxy":"a.b","proxy_version":"1.9.0"}]"#)
            .version
            .as_ref(),
        "1.9.0"
    );
    assert_eq!(
        one(r#"[{"proxy":"a.b","proxy_version":"1.9.0","istio_version":"1.9.1"}]"#)
            .version
            .as_ref(),
        "1.9.1"
    );
    assert_eq!(one(r#"[{"proxy":"a.b"}]"#).version.as_ref(), "");
}

#[test]
fn tolerant_of_nulls_wrong_types_and_odd_entries() {
    let v = parse(
        br#"[{"proxy":"a.b","cluster_sent":null,"cluster_acked":7,"listener_sent":"x",
        "listener_acked":"x","resources":null,"istio_version":["no"]},
        42, "text", null, {}, {"proxy":""}, {"proxy":3},
        {"proxy":"c.d","resources":{"type.googleapis.com/envoy.config.cluster.v3.Cluster":"nonsense"}}]"#,
    )
    .expect("parses");
    let names: Vec<&str> = v.iter().map(|p| p.proxy.as_ref()).collect();
    assert_eq!(names, ["a.b", "c.d"]);
    assert_eq!(
        states(&v[0]),
        ["NOT SENT", "SYNCED", "NOT SENT", "NOT SENT", "NOT SENT"]
    );
    assert_eq!(v[0].version.as_ref(), "");
    assert_eq!(states(&v[1]), ["IGNORED"; 5]);
}

#[test]
fn documents_that_are_not_an_array() {
    assert_eq!(parse(b"[]"), Ok(Vec::new()));
    assert_eq!(parse(b"null"), Ok(Vec::new()));
    assert_eq!(
        parse(b"{\"proxy\":\"a.b\"}"),
        Err(SynczError::NotAnArray("an object"))
    );
    assert!(matches!(parse(b""), Err(SynczError::Json(_))));
    assert!(matches!(
        parse(b"404 page not found\n"),
        Err(SynczError::Json(_))
    ));
    assert!(matches!(parse(b"[{\"proxy\":"), Err(SynczError::Json(_))));
}

#[test]
fn proxy_ids_split_at_the_last_dot() {
    assert_eq!(
        split_proxy_id("reviews-v1-545db77b95-qvbm7.default"),
        ("reviews-v1-545db77b95-qvbm7", "default")
    );
    // A bare pod's name is a DNS subdomain and may hold dots; a namespace never does.
    assert_eq!(
        split_proxy_id("vm.web.example.legacy"),
        ("vm.web.example", "legacy")
    );
    assert_eq!(split_proxy_id("nodot"), ("nodot", ""));
    let p = one(r#"[{"proxy":"my.pod.ns"}]"#);
    assert_eq!((p.pod.as_ref(), p.namespace.as_ref()), ("my.pod", "ns"));
}

fn replica(istiod: &str, state: ReplicaState) -> ReplicaSync {
    ReplicaSync {
        namespace: Name::from("istio-system"),
        istiod: Name::from(istiod),
        revision: Name::from("1-9-1"),
        state,
    }
}

fn ok(json: &str) -> ReplicaState {
    ReplicaState::Ok {
        via: "port-forward",
        proxies: parse(json.as_bytes()).expect("parses"),
    }
}

#[test]
fn merging_replicas() {
    let a = replica(
        "istiod-b",
        ok(
            r#"[{"proxy":"zeta.default","cluster_sent":"x","cluster_acked":"x"},{"proxy":"alpha.default"}]"#,
        ),
    );
    let b = replica(
        "istiod-a",
        ok(r#"[{"proxy":"mid.default"},{"proxy":"zeta.default"}]"#),
    );
    let forbidden = replica(
        "istiod-c",
        ReplicaState::Forbidden {
            message: "no".into(),
        },
    );
    let rows = merge([&a, &forbidden, &b]);
    let got: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.status.proxy.as_ref(), r.istiod.as_ref()))
        .collect();
    assert_eq!(
        got,
        [
            ("alpha.default", "istiod-b"),
            ("mid.default", "istiod-a"),
            // Connected to two replicas at once (a reconnect in flight): shown under each.
            ("zeta.default", "istiod-a"),
            ("zeta.default", "istiod-b"),
        ]
    );
    assert_eq!(rows[3].status.state(XdsType::Cds), SyncState::Synced);
    assert_eq!(rows[0].revision.as_ref(), "1-9-1");
    assert!(merge([&forbidden]).is_empty());
}

#[test]
fn istioctl_table() {
    let r = replica("istiod-1-9-1-58ff56d6f8-dftbh", ok(V1_9));
    let text = table(&merge([&r]), TableFormat::Legacy);
    let want = "\
NAME                                                  CLUSTER     CDS        LDS        EDS        RDS          ECDS         ISTIOD                            VERSION
istio-egressgateway-66cb5c46c7-c9q4b.istio-system                 SYNCED     SYNCED     SYNCED     NOT SENT     NOT SENT     istiod-1-9-1-58ff56d6f8-dftbh     1.10-alpha.f88f93ff2b8172b37c83d6066363d76b4477bd2d
reviews-v1-545db77b95-qvbm7.default                               SYNCED     SYNCED     STALE      SYNCED       NOT SENT     istiod-1-9-1-58ff56d6f8-dftbh     1.10-alpha.ba8228cc703fa11542c3e97c1702688d072152a1
";
    assert_eq!(text, want);
    assert_eq!(
        table(&[], TableFormat::Legacy),
        "NAME     CLUSTER     CDS     LDS     EDS     RDS     ECDS     ISTIOD     VERSION\n"
    );
}

#[test]
fn json_rows_carry_istiod_and_raw_values() {
    let r = replica("istiod-x", ok(V1_9));
    let doc = json_rows(&merge([&r]));
    let first = &doc[0];
    assert_eq!(
        first["proxy"],
        "istio-egressgateway-66cb5c46c7-c9q4b.istio-system"
    );
    assert_eq!(first["istiod"], "istiod-x");
    assert_eq!(first["revision"], "1-9-1");
    assert_eq!(first["namespace"], "istio-system");
    assert_eq!(first["xds"]["RDS"]["state"], "NOT SENT");
    assert_eq!(first["xds"]["CDS"]["state"], "SYNCED");
    assert_eq!(doc[1]["xds"]["EDS"]["state"], "STALE");
    assert_eq!(doc[1]["xds"]["EDS"]["sent"], "e2");
    assert_eq!(doc[1]["xds"]["EDS"]["acked"], "e1");
    assert!(doc[1]["xds"]["EDS"]["sent_time"].is_null());
}

// --- no input panics ---------------------------------------------------------------------

/// xorshift64*: deterministic, so a failure reproduces from its case number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n as u64)).unwrap_or(0)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const KEYS: &[&str] = &[
    "proxy",
    "proxy_type",
    "proxy_version",
    "istio_version",
    "cluster_id",
    "cluster_sent",
    "cluster_acked",
    "listener_sent",
    "listener_acked",
    "route_sent",
    "route_acked",
    "endpoint_sent",
    "endpoint_acked",
    "extensionconfig_sent",
    "extensionconfig_acked",
    "resources",
    "sent",
    "acked",
    "sentTime",
    "lastError",
    CDS,
    LDS,
    EDS,
    RDS,
    "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
];

const STRINGS: &[&str] = &[
    "",
    ".",
    "a.b",
    "ztunnel",
    "router",
    "x",
    "0001-01-01T00:00:00Z",
    "2026-08-01T10:00:00Z",
    "9999-12-31T23:59:59Z",
    "-0001-01-01T00:00:00Z",
    "not a time",
    "ü.ß",
    "\u{0}",
];

/// A random JSON value shaped more or less like a syncz answer.
fn value(rng: &mut Rng, depth: u32) -> Value {
    let leaf = depth == 0 || rng.below(3) == 0;
    match rng.below(if leaf { 5 } else { 7 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => json!(rng.next() as i64),
        3 | 4 => json!(rng.pick(STRINGS)),
        5 => Value::Array((0..rng.below(4)).map(|_| value(rng, depth - 1)).collect()),
        _ => Value::Object(
            (0..rng.below(8))
                .map(|_| (rng.pick(KEYS).to_string(), value(rng, depth - 1)))
                .collect(),
        ),
    }
}

/// Flips, drops, duplicates and inserts bytes; truncates.
fn mutate(rng: &mut Rng, mut bytes: Vec<u8>) -> Vec<u8> {
    const SPICE: &[u8] = b"{}[]\",:\\0123456789.eE-+ntfu\xff\xc3";
    for _ in 0..=rng.below(6) {
        if bytes.is_empty() {
            bytes.push(*rng.pick(SPICE));
            continue;
        }
        let i = rng.below(bytes.len());
        match rng.below(5) {
            0 => bytes[i] ^= 1 << rng.below(8),
            1 => {
                bytes.remove(i);
            }
            2 => bytes.insert(i, *rng.pick(SPICE)),
            3 => {
                let b = bytes[i];
                bytes.insert(i, b);
            }
            _ => bytes.truncate(i),
        }
    }
    bytes
}

/// What must hold of any successful parse.
fn check(statuses: &[ProxyStatus]) {
    for p in statuses {
        assert!(!p.proxy.is_empty());
        for x in &p.xds {
            match x.state {
                SyncState::Synced => assert!(!x.sent.is_empty() && x.sent == x.acked),
                SyncState::Stale => assert!(!x.acked.is_empty() && x.sent != x.acked),
                SyncState::StaleNeverAcknowledged => {
                    assert!(!x.sent.is_empty() && x.acked.is_empty())
                }
                SyncState::Error => assert!(x.last_error.is_some()),
                SyncState::NotSent | SyncState::Ignored => {}
            }
        }
        let _ = table(
            &[ProxyStatusRow {
                istiod: Name::from("i"),
                revision: Name::from("r"),
                status: p.clone(),
            }],
            TableFormat::Legacy,
        );
    }
}

#[test]
fn no_input_panics() {
    let seeds: Vec<Vec<u8>> = [
        V1_9.to_string(),
        json!([{"proxy":"a.b","resources":{CDS:{"sent":"x","acked":"y","sentTime":"2026-08-01T10:00:00Z","lastError":"e"}}}]).to_string(),
        r#"[{"proxy":"z.istio-system","proxy_type":"ztunnel"}]"#.to_string(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in 0..4000 {
        let input: Vec<u8> = match case % 4 {
            // Random bytes.
            0 => (0..rng.below(64))
                .map(|_| u8::try_from(rng.next() & 0xff).unwrap_or(0))
                .collect(),
            // Random JSON of the right vocabulary, usually inside an array.
            1 => {
                let v = value(&mut rng, 5);
                let v = if rng.below(4) == 0 {
                    v
                } else {
                    Value::Array(vec![v])
                };
                v.to_string().into_bytes()
            }
            // Mutated real answers.
            2 => {
                let seed = rng.pick(&seeds).clone();
                mutate(&mut rng, seed)
            }
            // Deep nesting, which must hit serde_json's limit rather than the stack's.
            _ => {
                let depth = rng.below(5000);
                let mut s = "[".repeat(depth);
                s.push_str(&"]".repeat(rng.below(depth + 1)));
                s.into_bytes()
            }
        };
        let result = std::panic::catch_unwind(|| parse(&input));
        match result {
            Ok(Ok(statuses)) => check(&statuses),
            Ok(Err(_)) => {}
            Err(_) => panic!(
                "case {case} panicked on {:?}",
                String::from_utf8_lossy(&input)
            ),
        }
    }
}

#[test]
fn escaped_and_repeated_keys_read_as_a_parsed_object_reads_them() {
    // A key spelled with an escape is the same key; a key given twice keeps its last value.
    let v = parse(
        br#"[{"prox\u0079":"a.b","cluster_sent":"x","cluster_sent":"y","cluster_acked":"y",
        "listener_sent":"l\"1","listener_acked":"l\"1",
        "resources":{"type.googleapis.com/envoy.config.cluster.v3.Cluster":{"sent":"1","acked":"0"},
        "type.googleapis.com/envoy.config.cluster.v3.Cluster":{"sent":"2","acked":"2"}}},
        {"proxy":"c.d","cluster_sent":"x","cluster_sent":"y","cluster_acked":"y"}]"#,
    )
    .expect("parses");
    let names: Vec<&str> = v.iter().map(|p| p.proxy.as_ref()).collect();
    assert_eq!(names, ["a.b", "c.d"]);
    // With `resources`, the map decides: its last Cluster report is in sync; the others
    // are not listed there, so not watched.
    assert_eq!(
        states(&v[0]),
        ["SYNCED", "IGNORED", "IGNORED", "IGNORED", "IGNORED"]
    );
    assert_eq!(
        states(&v[1]),
        ["SYNCED", "NOT SENT", "NOT SENT", "NOT SENT", "NOT SENT"]
    );
}
