//! Gateways: every gateway deployment, its labels, Service ports, and whether its namespace
//! has the `istio-<rev>` ConfigMap it needs (the seed's trap).

use std::borrow::Cow;

use ratatui::layout::Constraint::{Fill, Length};

use crate::model::{GatewayRow, Model};

use super::super::table::{CellText, Column, Row, Rows, SortKey, Tone};
use super::revisions::istiod_tone;
use super::{Subject, list};

/// NAMESPACE, NAME and REVISION tell gateways apart (one name in two namespaces, one per
/// revision): they show at every width, cut in the middle; narrow terminals drop PORTS first.
const COLUMNS: [Column; 13] = [
    Column::new("NAMESPACE", Fill(3), 0).cut_middle(),
    Column::new("NAME", Fill(6), 0).cut_middle(),
    Column::new("TYPE", Length(8), 0),
    Column::new("CLASS", Length(14), 120),
    Column::new("REVISION", Length(8), 0),
    Column::new("READY", Length(5), 0),
    Column::new("HPA", Length(5), 100),
    Column::new("SERVICE", Length(12), 140),
    Column::new("PORTS", Fill(3), 100),
    Column::new("CONFIGMAP", Length(9), 0),
    Column::new("LABELS", Fill(2), 180),
    Column::new("SERVES", Fill(2), 160),
    Column::new("PROBLEMS", Fill(2), 140),
];

/// The view's table: the rows in focus.
pub fn table(model: &Model) -> Rows<GatewayRow> {
    Rows::new(
        model
            .gateways()
            .into_iter()
            .filter(|r| model.in_focus(&r.namespace))
            .collect(),
        model.unseen(crate::model::Kind::Deployment),
    )
}

/// What is wrong with a gateway, in words.
pub fn problems(r: &GatewayRow) -> Vec<String> {
    let mut out = Vec::new();
    if r.needs_mesh_config && !r.has_mesh_config {
        let cm = r
            .revision
            .as_deref()
            .map_or_else(|| "istio".to_string(), |rev| format!("istio-{rev}"));
        out.push(format!("no {cm} ConfigMap in {}", r.namespace));
    }
    if r.duplicate_labels {
        out.push("app/istio labels shared with another gateway".into());
    }
    if let Some(api) = &r.gateway_api {
        if api.accepted == Some(false) {
            out.push("not Accepted".into());
        }
        if api.programmed == Some(false) {
            out.push(match &api.programmed_reason {
                Some(why) => format!("not Programmed: {why}"),
                None => "not Programmed".into(),
            });
        }
    }
    if !r.node_port_collisions.is_empty() {
        let ports: Vec<String> = r.node_port_collisions.iter().map(u16::to_string).collect();
        out.push(format!("node port {} used twice", ports.join(",")));
    }
    out
}

/// `80:31080,443:30443`: kubectl's ports without `/TCP`, which nearly all are; other
/// protocols keep theirs.
pub fn ports(r: &GatewayRow) -> String {
    let ports: Vec<&str> = r
        .ports
        .iter()
        .map(|p| p.strip_suffix("/TCP").unwrap_or(p))
        .collect();
    list(&ports)
}

/// What it serves: the Istio `Gateway` resources bound to it; a Gateway API gateway's
/// listeners and addresses; who uses a waypoint.
pub fn serves(r: &GatewayRow) -> String {
    let Some(api) = &r.gateway_api else {
        return list(&r.gateway_resources);
    };
    if r.kind.as_ref() == "waypoint" {
        return if api.used_by.is_empty() {
            "used by nothing".into()
        } else {
            format!("used by {}", list(&api.used_by))
        };
    }
    let mut text = list(&api.listeners);
    if !api.addresses.is_empty() {
        text.push_str(&format!(" @ {}", list(&api.addresses)));
    }
    text
}

/// The Gateway API class, or `-` for a chart or operator gateway.
pub fn class(r: &GatewayRow) -> String {
    r.gateway_api
        .as_ref()
        .map_or_else(|| "-".into(), |a| a.class.to_string())
}

pub fn hpa(r: &GatewayRow) -> String {
    match (r.hpa_min, r.hpa_max) {
        (Some(min), Some(max)) => format!("{min}-{max}"),
        _ => "-".into(),
    }
}

pub fn labels(r: &GatewayRow) -> String {
    format!(
        "app={} istio={}",
        r.app.as_deref().unwrap_or("-"),
        r.istio.as_deref().unwrap_or("-")
    )
}

impl Row for GatewayRow {
    const COLUMNS: &'static [Column] = &COLUMNS;
    const EMPTY: &'static str = "no gateway deployment found";

    fn cells(&self) -> Vec<CellText> {
        let r = self;
        let problems = problems(r);
        vec![
            (r.namespace.to_string(), Tone::Plain),
            (r.name.to_string(), Tone::Plain),
            (r.kind.to_string(), Tone::Plain),
            (class(r), Tone::Plain),
            (
                r.revision.as_deref().unwrap_or("-").to_string(),
                Tone::Plain,
            ),
            (
                format!("{}/{}", r.ready, r.desired),
                istiod_tone(r.ready, r.desired),
            ),
            (hpa(r), Tone::Plain),
            (
                r.service_type.as_deref().unwrap_or("-").to_string(),
                Tone::Plain,
            ),
            (
                ports(r),
                if r.node_port_collisions.is_empty() {
                    Tone::Plain
                } else {
                    Tone::Bad
                },
            ),
            if !r.needs_mesh_config {
                // istiod configures these gateways: no ConfigMap is mounted.
                ("n/a".into(), Tone::Dim)
            } else if r.has_mesh_config {
                ("ok".into(), Tone::Good)
            } else {
                ("MISSING".into(), Tone::Bad)
            },
            (
                labels(r),
                if r.duplicate_labels {
                    Tone::Bad
                } else {
                    Tone::Plain
                },
            ),
            (serves(r), Tone::Plain),
            if problems.is_empty() {
                ("-".into(), Tone::Dim)
            } else {
                (problems.join("; "), Tone::Bad)
            },
        ]
    }

    fn sort_key(&self, column: usize) -> SortKey<'_> {
        let r = self;
        let owned = |s: String| SortKey::Text(Cow::Owned(s));
        match column {
            0 => SortKey::Text(Cow::Borrowed(&r.namespace)),
            1 => SortKey::Text(Cow::Borrowed(&r.name)),
            2 => SortKey::Text(Cow::Borrowed(&r.kind)),
            3 => owned(class(r)),
            4 => owned(r.revision.as_deref().unwrap_or("").into()),
            5 => SortKey::Num(i64::from(r.ready) - i64::from(r.desired)),
            6 => SortKey::Num(i64::from(r.hpa_max.unwrap_or(0))),
            7 => owned(r.service_type.as_deref().unwrap_or("").into()),
            8 => owned(list(&r.ports)),
            9 => SortKey::Num(i64::from(r.has_mesh_config)),
            10 => owned(labels(r)),
            11 => owned(serves(r)),
            _ => SortKey::Num(-(problems(r).len() as i64)),
        }
    }

    fn filter_text(&self, out: &mut String) {
        let r = self;
        for s in [&r.namespace, &r.name, &r.kind] {
            out.push_str(s);
            out.push(' ');
        }
        for s in [&r.revision, &r.app, &r.istio, &r.service_type]
            .into_iter()
            .flatten()
        {
            out.push_str(s);
            out.push(' ');
        }
        for s in r.ports.iter().chain(&r.gateway_resources) {
            out.push_str(s);
            out.push(' ');
        }
        if r.gateway_api.is_some() {
            out.push_str(&class(r));
            out.push(' ');
            out.push_str(&serves(r));
        }
    }

    fn subject(&self) -> Option<Subject> {
        let r = self;
        Some(Subject::Gateway {
            namespace: r.namespace.clone(),
            name: r.name.clone(),
        })
    }
}
