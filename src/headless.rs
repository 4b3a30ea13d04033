//! `meshtop get VIEW`: the same facts the TUI shows, printed once as a table, JSON or YAML.

use std::fmt::Write as _;

use serde::Serialize;

use crate::cli::{Output, View};
use crate::model::Model;

/// Renders one view of the model in the requested format.
pub fn render(model: &Model, view: View, output: Output) -> Result<String, String> {
    match view {
        View::Revisions => emit(&model.revisions(), output, revisions_table),
        View::Gateways => emit(&model.gateways(), output, gateways_table),
        View::Disruption => emit(&model.disruption(), output, disruption_table),
        View::Nodes => emit(&model.nodes(), output, nodes_table),
        View::Namespaces => emit(&model.namespaces(), output, namespaces_table),
    }
}

fn emit<T: Serialize>(
    rows: &[T],
    output: Output,
    table: fn(&[T]) -> Vec<Vec<String>>,
) -> Result<String, String> {
    match output {
        Output::Json => serde_json::to_string_pretty(rows)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string()),
        Output::Yaml => serde_yaml::to_string(rows).map_err(|e| e.to_string()),
        Output::Table => Ok(align(&table(rows))),
    }
}

/// Left-aligned columns separated by three spaces, as kubectl prints them.
fn align(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}   ", w = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn or_dash(v: Option<impl ToString>) -> String {
    v.map(|x| x.to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "-".into())
}

fn list(v: &[impl AsRef<str>]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(",")
    }
}

fn header(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|s| s.to_string()).collect()
}

fn revisions_table(rows: &[crate::model::RevisionRow]) -> Vec<Vec<String>> {
    let mut t = vec![header(&[
        "REVISION",
        "DEFAULT",
        "TAGS",
        "ISTIOOPERATOR",
        "STATUS",
        "ISTIOD",
        "VERSION",
        "NAMESPACES",
        "PODS",
    ])];
    for r in rows {
        t.push(vec![
            r.revision.to_string(),
            if r.default { "yes".into() } else { "no".into() },
            list(&r.tags),
            or_dash(r.iop.as_ref()),
            or_dash(r.iop_status.as_ref()),
            format!("{}/{}", r.istiod_ready, r.istiod_desired),
            or_dash(r.version.as_ref()),
            list(&r.namespaces),
            r.pods.to_string(),
        ]);
    }
    t
}

fn gateways_table(rows: &[crate::model::GatewayRow]) -> Vec<Vec<String>> {
    let mut t = vec![header(&[
        "NAMESPACE",
        "NAME",
        "KIND",
        "REVISION",
        "ISTIO LABEL",
        "READY",
        "HPA",
        "SERVICE",
        "PORTS",
        "MESH CONFIG",
    ])];
    for g in rows {
        let hpa = match (g.hpa_min, g.hpa_max) {
            (Some(a), Some(b)) => format!("{a}..{b}"),
            _ => "-".into(),
        };
        t.push(vec![
            g.namespace.to_string(),
            g.name.to_string(),
            g.kind.to_string(),
            or_dash(g.revision.as_ref()),
            or_dash(g.istio.as_ref()),
            format!("{}/{}", g.ready, g.desired),
            hpa,
            or_dash(g.service_type.as_ref()),
            list(&g.ports),
            if g.has_mesh_config {
                "ok".into()
            } else {
                "MISSING".into()
            },
        ]);
    }
    t
}

fn disruption_table(rows: &[crate::model::PdbRow]) -> Vec<Vec<String>> {
    let mut t = vec![header(&[
        "NAMESPACE",
        "NAME",
        "MIN AVAILABLE",
        "MAX UNAVAILABLE",
        "ALLOWED DISRUPTIONS",
        "PODS",
        "BLOCKS NODES",
    ])];
    for p in rows {
        t.push(vec![
            p.namespace.to_string(),
            p.name.to_string(),
            crate::ui::views::disruption::budget(&p.min_available),
            crate::ui::views::disruption::budget(&p.max_unavailable),
            p.allowed_disruptions.to_string(),
            format!("{}/{}", p.current_healthy, p.expected_pods),
            list(&p.blocks_nodes),
        ]);
    }
    t
}

fn nodes_table(rows: &[crate::model::NodeRow]) -> Vec<Vec<String>> {
    let mut t = vec![header(&[
        "NAME", "STATUS", "ROLES", "VERSION", "SKEW", "PODS", "DRAIN",
    ])];
    for n in rows {
        let mut status = if n.ready {
            "Ready".to_string()
        } else {
            "NotReady".to_string()
        };
        if n.cordoned {
            status.push_str(",SchedulingDisabled");
        }
        let drain = n.preflight.summary();
        t.push(vec![
            n.name.to_string(),
            status,
            list(&n.roles),
            n.kubelet_version.to_string(),
            if n.minor_skew == 0 {
                "-".into()
            } else {
                format!("-{}", n.minor_skew)
            },
            n.pods.to_string(),
            drain,
        ]);
    }
    t
}

fn namespaces_table(rows: &[crate::model::NamespaceRow]) -> Vec<Vec<String>> {
    let mut t = vec![header(&[
        "NAME",
        "ISTIO-INJECTION",
        "ISTIO.IO/REV",
        "REVISION",
        "CONFLICT",
        "PODS",
        "INJECTED",
        "NEED RESTART",
    ])];
    for n in rows {
        t.push(vec![
            n.name.to_string(),
            or_dash(n.injection.as_ref()),
            or_dash(n.rev_label.as_ref()),
            or_dash(n.revision.as_ref()),
            if n.conflict { "yes".into() } else { "-".into() },
            n.pods.to_string(),
            n.injected_pods.to_string(),
            n.pods_to_restart.len().to_string(),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align() {
        let t = vec![
            header(&["A", "LONG HEADER", "C"]),
            vec!["xxxx".into(), "y".into(), "z".into()],
        ];
        assert_eq!(
            align(&t),
            "A      LONG HEADER   C\nxxxx   y             z\n"
        );
    }
}
