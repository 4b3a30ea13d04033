//! Paged lists (`limit` and `continue`) return each object exactly once, with namespaces
//! whose names prefix one another, and while objects come and go between pages.

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};

use crate::common::harness;

const PER_NAMESPACE: usize = 7;

fn named<K: kube::Resource<DynamicType = ()> + Default>(ns: Option<&str>, name: &str) -> K {
    let mut k = K::default();
    *k.meta_mut() = ObjectMeta {
        name: Some(name.into()),
        namespace: ns.map(Into::into),
        ..ObjectMeta::default()
    };
    k
}

/// Every ConfigMap name of the cluster, page by page; `between` runs after each page.
async fn paged(
    api: &Api<ConfigMap>,
    limit: u32,
    mut between: impl AsyncFnMut(usize),
) -> Vec<String> {
    let mut names = Vec::new();
    let mut lp = ListParams::default().limit(limit);
    let mut page = 0;
    loop {
        let list = api.list(&lp).await.expect("a page");
        names.extend(list.items.iter().map(|c| {
            format!(
                "{}/{}",
                c.metadata.namespace.as_deref().unwrap_or_default(),
                c.metadata.name.as_deref().unwrap_or_default()
            )
        }));
        match list.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => lp = lp.continue_token(&token),
            None => return names,
        }
        between(page).await;
        page += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_object_once_with_prefixing_namespaces_and_churn() {
    let sandbox = harness::start_file("assets/scenarios/small.yaml")
        .await
        .expect("sandbox");
    let client = harness::client(&sandbox, harness::ADMIN_CONTEXT)
        .await
        .expect("client");
    let pp = PostParams::default();
    let namespaces = ["checkout-prod", "checkout-prod-eu", "checkout-prod-eu-2"];
    for ns in namespaces {
        Api::<Namespace>::all(client.clone())
            .create(&pp, &named(None, ns))
            .await
            .expect("namespace");
        let cms = Api::<ConfigMap>::namespaced(client.clone(), ns);
        for i in 0..PER_NAMESPACE {
            cms.create(&pp, &named(Some(ns), &format!("z{i}")))
                .await
                .expect("configmap");
            cms.create(&pp, &named(Some(ns), &format!("a{i}")))
                .await
                .expect("configmap");
        }
    }
    let all = Api::<ConfigMap>::all(client.clone());
    let whole: Vec<String> = all
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .iter()
        .map(|c| {
            format!(
                "{}/{}",
                c.metadata.namespace.as_deref().unwrap_or_default(),
                c.metadata.name.as_deref().unwrap_or_default()
            )
        })
        .collect();
    for limit in [1, 3, 5, 500] {
        let names = paged(&all, limit, async |_| {}).await;
        assert_eq!(names, whole, "limit {limit}");
    }

    // Objects created and deleted between pages: those there all along come exactly once.
    let churn = Api::<ConfigMap>::namespaced(client.clone(), "checkout-prod-eu");
    let names = paged(&all, 4, async |page| {
        churn
            .create(
                &pp,
                &named(Some("checkout-prod-eu"), &format!("m-new{page}")),
            )
            .await
            .expect("create between pages");
        if page == 1 {
            churn
                .delete("z3", &DeleteParams::default())
                .await
                .expect("delete between pages");
        }
    })
    .await;
    // The pages come from the list's first snapshot: the pod deleted between pages is still
    // on them, the ones created are not, and nothing comes twice.
    assert_eq!(names, whole);
    let now: Vec<String> = all
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    assert!(now.contains(&"m-new0".to_string()), "the churn happened");
    assert!(
        !now.contains(&"z3".to_string()) || whole.iter().filter(|n| n.ends_with("/z3")).count() > 1
    );
}
