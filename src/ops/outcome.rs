//! The words of an action as it runs and when it ends, kubectl's where kubectl has them: the
//! CLI prints them (errors and warnings on stderr), the TUI's actions panel shows the same
//! lines.

use std::time::Duration;

use super::drain::{DrainEvent, describe_groups, humantime};
use super::rollout::RolloutEvent;

/// The suffix kubectl prints on what a server-side dry run did.
pub fn dry(dry_run: bool) -> &'static str {
    if dry_run { " (server dry run)" } else { "" }
}

/// What a running action reports, in the order it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Drain(DrainEvent),
    /// A workload's pods were told to restart (`deployment.apps/NAME`).
    Restarted(String),
    /// The restarted workloads' rollouts, `done` of `total` finished.
    RolloutStarted {
        total: usize,
    },
    Rollout(RolloutEvent),
    /// A rolling node upgrade's own steps (its drains report as [`Event::Drain`]).
    Upgrade(super::upgrade::UpgradeEvent),
    /// An object deleted (`found`), or not there any more and skipped.
    Deleted {
        what: String,
        found: bool,
    },
}

/// One line of an action's report; `warning`: kubectl prints it on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    pub warning: bool,
}

impl Line {
    fn out(text: String) -> Self {
        Line {
            text,
            warning: false,
        }
    }

    fn err(text: String) -> Self {
        Line {
            text,
            warning: true,
        }
    }
}

/// The lines an event is told in; progress events have none.
pub fn lines(event: &Event, dry_run: bool) -> Vec<Line> {
    let suffix = dry(dry_run);
    match event {
        Event::Drain(e) => drain_lines(e, suffix),
        Event::Restarted(w) => vec![Line::out(format!("{w} restarted{suffix}"))],
        Event::RolloutStarted { .. } => Vec::new(),
        Event::Deleted { what, found: true } => vec![Line::out(format!("{what} deleted{suffix}"))],
        Event::Deleted { what, found: false } => {
            vec![Line::out(format!("{what} not found: skipped"))]
        }
        Event::Rollout(RolloutEvent::Waiting { workload, why }) => vec![Line::out(format!(
            "Waiting for {workload} rollout to finish: {why}..."
        ))],
        Event::Rollout(RolloutEvent::Done { workload, .. }) => {
            vec![Line::out(format!("{workload} successfully rolled out"))]
        }
        Event::Upgrade(e) => {
            let (text, warning) = e.line(suffix);
            vec![Line { text, warning }]
        }
    }
}

fn drain_lines(event: &DrainEvent, suffix: &str) -> Vec<Line> {
    match event {
        DrainEvent::Cordoned { node, already } => vec![Line::out(if *already {
            format!("node/{node} already cordoned{suffix}")
        } else {
            format!("node/{node} cordoned{suffix}")
        })],
        DrainEvent::Planned(plan) => {
            let mut out = Vec::new();
            let warnings = plan.warnings();
            if !warnings.is_empty() {
                out.push(Line::err(format!(
                    "Warning: {}",
                    describe_groups(&warnings)
                )));
            }
            out.push(Line::out(format!(
                "{} to evict, {} stay{}",
                count(plan.to_evict().len(), "pod"),
                plan.skipped().len(),
                if plan.skipped().is_empty() {
                    ""
                } else {
                    " (DaemonSet or mirror)"
                }
            )));
            out
        }
        DrainEvent::LastReplicas(last) => last
            .iter()
            .map(|l| Line::err(format!("Warning: evicting the last ready replica of {l}")))
            .collect(),
        DrainEvent::Evicting(pod) => vec![Line::out(format!("evicting pod {pod}{suffix}"))],
        DrainEvent::Refused {
            pod,
            pdb,
            message,
            cause,
            retry_in,
        } => {
            let mut out = vec![Line::err(format!(
                "error when evicting pods/{:?} -n {:?}{}: {message}",
                pod.name,
                pod.namespace,
                retry(*retry_in)
            ))];
            if let Some(pdb) = pdb {
                out.push(Line::err(format!(
                    "  refused by poddisruptionbudget/{pdb} -n {}: {}",
                    pod.namespace,
                    cause.as_deref().unwrap_or_default()
                )));
            }
            out
        }
        DrainEvent::Budget(b) => vec![Line::err(format!("  {}", b.describe()))],
        DrainEvent::Evicted(pod) => vec![Line::out(format!("pod/{} evicted{suffix}", pod.name))],
        DrainEvent::Progress(_) => Vec::new(),
    }
}

fn retry(retry_in: Option<Duration>) -> String {
    retry_in
        .map(|d| format!(" (will retry after {})", humantime(d)))
        .unwrap_or_default()
}

/// `1 pod`, `2 pods`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `1 proxy`, `2 proxies`: a noun whose plural is not a mere `s`.
pub fn counted(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// How an action ended, when it did what it was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Drained {
        node: String,
        evicted: usize,
        stayed: usize,
    },
    /// `cordon`: true for cordon, false for uncordon; `changed`: false when it already was.
    Cordoned {
        node: String,
        cordon: bool,
        changed: bool,
    },
    /// kubectl's verb: `labeled`, `unlabeled`, `not labeled`.
    NodeLabeled {
        node: String,
        verb: &'static str,
    },
    NamespaceLabeled {
        namespace: String,
        revision: String,
        labeled: bool,
        removed_injection: Option<String>,
        /// `istio.io/dataplane-mode=ambient` removed.
        removed_ambient: bool,
        /// Restarted, and whether the rollouts were followed to their end.
        restarted: Option<(usize, bool)>,
    },
    /// A control plane's objects deleted (`skipped`: not found).
    Uninstalled {
        what: String,
        deleted: usize,
        skipped: usize,
    },
    /// Enrolled in ambient mode; `removed`: the injection labels taken off, `KEY=VALUE`.
    Enrolled {
        namespace: String,
        waypoint: Option<String>,
        labeled: bool,
        removed: Vec<String>,
        restarted: Option<(usize, bool)>,
    },
    PdbRelaxed {
        namespace: String,
        name: String,
    },
    PdbRestored {
        namespace: String,
        name: String,
    },
    /// Every node of a rolling upgrade done; the budgets restored and the workloads scaled
    /// back at its end.
    NodesUpgraded {
        nodes: Vec<String>,
        restored: usize,
        scaled_back: usize,
    },
    /// `deployment.apps/NAME`.
    Scaled {
        workload: String,
    },
    /// `deployment.apps/NAME`; `rolled_out`: the rollout was followed to its end.
    Restarted {
        workload: String,
        rolled_out: bool,
    },
    /// A revision tag pointed at `revision` (from `from`); `sail`: as Sail's
    /// `IstioRevisionTag`; the namespaces that follow it, whether the default tag's
    /// validating webhook followed, and the restart if asked.
    TagSet {
        tag: String,
        revision: String,
        from: Option<String>,
        sail: bool,
        namespaces: usize,
        validator: Option<bool>,
        restarted: Option<(usize, bool)>,
    },
}

impl Outcome {
    /// The closing line.
    pub fn text(&self, dry_run: bool) -> String {
        let suffix = dry(dry_run);
        match self {
            Outcome::Drained {
                node,
                evicted,
                stayed,
            } => format!(
                "node/{node} drained{suffix}: {} evicted, {stayed} stayed (DaemonSet or mirror)",
                count(*evicted, "pod")
            ),
            Outcome::Cordoned {
                node,
                cordon,
                changed,
            } => {
                let verb = if *cordon { "cordoned" } else { "uncordoned" };
                if *changed {
                    format!("node/{node} {verb}{suffix}")
                } else {
                    format!("node/{node} already {verb}")
                }
            }
            Outcome::NodeLabeled { node, verb } => format!("node/{node} {verb}{suffix}"),
            Outcome::NamespaceLabeled {
                namespace,
                revision,
                labeled,
                removed_injection,
                removed_ambient,
                restarted,
            } => {
                let mut text = if *labeled {
                    let mut removed = removed_injection
                        .as_deref()
                        .map(|v| format!(", istio-injection={v} removed"))
                        .unwrap_or_default();
                    if *removed_ambient {
                        removed.push_str(", istio.io/dataplane-mode=ambient removed");
                    }
                    format!(
                        "namespace/{namespace} labeled istio.io/rev={revision}{removed}{suffix}"
                    )
                } else {
                    format!("namespace/{namespace} not labeled: already on istio.io/rev={revision}")
                };
                text.push_str(&restarted_words(*restarted));
                text
            }
            Outcome::Enrolled {
                namespace,
                waypoint,
                labeled,
                removed,
                restarted,
            } => {
                let mut text = if *labeled {
                    let mut t =
                        format!("namespace/{namespace} labeled istio.io/dataplane-mode=ambient");
                    if let Some(w) = waypoint {
                        t.push_str(&format!(", istio.io/use-waypoint={w}"));
                    }
                    for r in removed {
                        t.push_str(&format!(", {r} removed"));
                    }
                    t.push_str(suffix);
                    t
                } else {
                    format!("namespace/{namespace} not labeled: already in ambient mode")
                };
                text.push_str(&restarted_words(*restarted));
                text
            }
            // kubectl names the object without its namespace.
            Outcome::PdbRelaxed { name, .. } => {
                format!("poddisruptionbudget.policy/{name} relaxed{suffix}")
            }
            Outcome::PdbRestored { name, .. } => {
                format!("poddisruptionbudget.policy/{name} restored{suffix}")
            }
            Outcome::NodesUpgraded {
                nodes,
                restored,
                scaled_back,
            } => format!(
                "{} upgraded{suffix}: {}; {} restored, {} scaled back",
                count(nodes.len(), "node"),
                nodes.join(", "),
                count(*restored, "budget"),
                count(*scaled_back, "workload")
            ),
            Outcome::Scaled { workload } => format!("{workload} scaled{suffix}"),
            Outcome::Uninstalled {
                what,
                deleted,
                skipped,
            } => format!(
                "{what} uninstalled{suffix}: {} deleted, {skipped} not found",
                count(*deleted, "object")
            ),
            // istioctl's words, then what moved.
            Outcome::TagSet {
                tag,
                revision,
                from,
                sail,
                namespaces,
                validator,
                restarted,
            } => {
                let mut text = format!(
                    "Revision tag {tag:?} created, referencing control plane revision \
                     {revision:?}{suffix}"
                );
                if let Some(from) = from.as_deref().filter(|f| *f != revision) {
                    text.push_str(&format!(
                        "; moved from {from} with {}",
                        count(*namespaces, "namespace")
                    ));
                }
                if *sail {
                    text.push_str(" (as istiorevisiontag.sailoperator.io)");
                }
                match validator {
                    Some(true) => text.push_str(&format!(
                        "; validatingwebhookconfiguration/istiod-default-validator now validates \
                         for {revision}"
                    )),
                    Some(false) => text.push_str(&format!(
                        "; {revision} has no validating webhook to copy: \
                         istiod-default-validator is unchanged"
                    )),
                    None => {}
                }
                text.push_str(&restarted_words(*restarted));
                text
            }
            Outcome::Restarted {
                workload,
                rolled_out,
            } => {
                if *rolled_out {
                    format!("{workload} restarted and rolled out")
                } else {
                    format!("{workload} restarted{suffix}")
                }
            }
        }
    }
}

/// `; 2 workloads restarted and rolled out`, when restarted.
fn restarted_words(restarted: Option<(usize, bool)>) -> String {
    restarted
        .map(|(n, followed)| {
            format!(
                "; {} restarted{}",
                count(n, "workload"),
                if followed { " and rolled out" } else { "" }
            )
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::drain::PodRef;

    #[test]
    fn a_refusal_is_told_as_kubectl_tells_it() {
        let e = Event::Drain(DrainEvent::Refused {
            pod: PodRef {
                namespace: "istio-system".into(),
                name: "istio-pilot-1".into(),
            },
            pdb: Some("istio-pilot".into()),
            message: "Cannot evict pod as it would violate the pod's disruption budget.".into(),
            cause: Some("The disruption budget istio-pilot needs 1 healthy pods".into()),
            retry_in: Some(Duration::from_secs(5)),
        });
        assert_eq!(
            lines(&e, false),
            [
                Line::err(
                    "error when evicting pods/\"istio-pilot-1\" -n \"istio-system\" (will retry \
                     after 5s): Cannot evict pod as it would violate the pod's disruption budget."
                        .into()
                ),
                Line::err(
                    "  refused by poddisruptionbudget/istio-pilot -n istio-system: The \
                     disruption budget istio-pilot needs 1 healthy pods"
                        .into()
                ),
            ]
        );
    }

    #[test]
    fn outcomes_count_in_words() {
        let drained = |evicted| Outcome::Drained {
            node: "n1".into(),
            evicted,
            stayed: 2,
        };
        assert_eq!(
            drained(1).text(false),
            "node/n1 drained: 1 pod evicted, 2 stayed (DaemonSet or mirror)"
        );
        assert_eq!(
            drained(3).text(true),
            "node/n1 drained (server dry run): 3 pods evicted, 2 stayed (DaemonSet or mirror)"
        );
        let labeled = Outcome::NamespaceLabeled {
            namespace: "shop".into(),
            revision: "1-9-1".into(),
            labeled: true,
            removed_injection: Some("enabled".into()),
            removed_ambient: false,
            restarted: Some((1, true)),
        };
        assert_eq!(
            labeled.text(false),
            "namespace/shop labeled istio.io/rev=1-9-1, istio-injection=enabled removed; \
             1 workload restarted and rolled out"
        );
    }
}
