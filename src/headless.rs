//! What the commands print: `meshtop get VIEW` (the same facts the TUI shows, printed once),
//! `meshtop check`'s findings and one proxy's xDS state. The tables are the TUI's own (its
//! view's columns at a width, its cells); JSON and YAML are the model's rows.

use std::fmt::Write as _;
use std::io::IsTerminal as _;

use serde::Serialize;

use crate::cli::{GetOutput, Output, View};
use crate::model::Model;
use crate::ui::state::Screen;
use crate::ui::table::{self, TableSource};
use crate::ui::views::{self, ScreenId, Subject, ViewKind};

/// A width at which every column shows: what scripts get.
const EVERY_COLUMN: u16 = u16::MAX;

/// The width `-o table` is laid out for: `--width`, else the terminal's when stdout is one,
/// else every column.
pub fn table_width(flag: Option<u16>) -> u16 {
    flag.or_else(|| {
        std::io::stdout()
            .is_terminal()
            .then(crossterm::terminal::size)
            .and_then(Result::ok)
            .map(|(width, _)| width)
    })
    .unwrap_or(EVERY_COLUMN)
}

/// Renders one view of the model in the requested format: a table shows the columns the
/// TUI shows at `width` (every one for `-o wide`), and every format lists the rows the
/// table lists (those of `-n`'s namespace).
pub fn render(model: &Model, view: View, output: GetOutput, width: u16) -> Result<String, String> {
    let format = match output {
        GetOutput::Table | GetOutput::Wide => {
            let width = if output == GetOutput::Wide {
                EVERY_COLUMN
            } else {
                width
            };
            let id = ScreenId::View(view_kind(view));
            let source = views::source(&id, model);
            return Ok(table_text(source.as_ref(), &Screen::new(id), width));
        }
        GetOutput::Name => return Ok(names(model, view)),
        GetOutput::Json => Output::Json,
        GetOutput::Yaml => Output::Yaml,
    };
    let shown = |namespace: &str| model.in_focus(namespace);
    match view {
        View::Revisions => structured(&model.revisions(), format),
        View::Gateways => structured(&kept(model.gateways(), |r| shown(&r.namespace)), format),
        View::Proxies => structured(&kept(model.proxies(), |r| shown(&r.namespace)), format),
        View::Disruption => structured(&kept(model.disruption(), |r| shown(&r.namespace)), format),
        View::Nodes => structured(&model.nodes(), format),
        View::Namespaces => structured(&kept(model.namespaces(), |r| shown(&r.name)), format),
    }
}

fn kept<T>(mut rows: Vec<T>, keep: impl Fn(&T) -> bool) -> Vec<T> {
    rows.retain(keep);
    rows
}

/// `-o name`: one `kind/name` line per row, with kubectl's kind for the objects kubectl
/// knows (a gateway is its Deployment, a proxy its pod) and without the namespace, as
/// kubectl prints them.
fn names(model: &Model, view: View) -> String {
    let shown = |namespace: &str| model.in_focus(namespace);
    let lines: Vec<String> = match view {
        View::Revisions => model
            .revisions()
            .iter()
            .map(|r| format!("revision/{}", r.revision))
            .collect(),
        View::Gateways => model
            .gateways()
            .iter()
            .filter(|r| shown(&r.namespace))
            .map(|r| match &r.gateway_api {
                // What the row is: the Gateway resource, not the Deployment istiod made.
                Some(_) => format!("gateway.gateway.networking.k8s.io/{}", r.name),
                None => format!("deployment.apps/{}", r.name),
            })
            .collect(),
        View::Proxies => model
            .proxies()
            .iter()
            .filter(|r| shown(&r.namespace))
            .map(|r| format!("pod/{}", r.pod))
            .collect(),
        View::Disruption => model
            .disruption()
            .iter()
            .filter(|r| shown(&r.namespace))
            .map(|r| format!("poddisruptionbudget.policy/{}", r.name))
            .collect(),
        View::Nodes => model
            .nodes()
            .iter()
            .map(|r| format!("node/{}", r.name))
            .collect(),
        View::Namespaces => model
            .namespaces()
            .iter()
            .filter(|r| shown(&r.name))
            .map(|r| format!("namespace/{}", r.name))
            .collect(),
    };
    lines.into_iter().map(|l| l + "\n").collect()
}

fn view_kind(view: View) -> ViewKind {
    match view {
        View::Revisions => ViewKind::Revisions,
        View::Gateways => ViewKind::Gateways,
        View::Proxies => ViewKind::Proxies,
        View::Disruption => ViewKind::Disruption,
        View::Nodes => ViewKind::Nodes,
        View::Namespaces => ViewKind::Namespaces,
    }
}

/// Rows as pretty JSON, or as YAML when asked.
pub fn structured<T: Serialize + ?Sized>(rows: &T, output: Output) -> Result<String, String> {
    if output == Output::Yaml {
        return serde_yaml::to_string(rows).map_err(|e| e.to_string());
    }
    serde_json::to_string_pretty(rows)
        .map(|s| s + "\n")
        .map_err(|e| e.to_string())
}

/// The model's findings as the Overview's table lists them, every column; the table's own
/// words when there are none.
pub fn findings_table(model: &Model) -> String {
    let id = ScreenId::View(ViewKind::Overview);
    let source = views::source(&id, model);
    if source.is_empty() {
        return format!("{}\n", source.empty_message());
    }
    table_text(source.as_ref(), &Screen::new(id), EVERY_COLUMN)
}

/// One proxy's xDS types with their state and raw nonces, as its details screen in the TUI
/// lists them.
pub fn proxy_xds_table(model: &Model, namespace: &str, pod: &str) -> String {
    let id = ScreenId::Details(Subject::Proxy {
        namespace: namespace.into(),
        pod: pod.into(),
    });
    let source = views::source(&id, model);
    table_text(source.as_ref(), &Screen::new(id), EVERY_COLUMN)
}

/// The rows of `screen` as the TUI arranges them, with the columns it shows at `width`.
fn table_text(source: &dyn TableSource, screen: &Screen, width: u16) -> String {
    let columns = source.columns();
    let visible = table::visible_columns(columns, width);
    let mut rows = vec![
        visible
            .iter()
            .map(|&c| columns[c].header.to_string())
            .collect::<Vec<_>>(),
    ];
    for row in table::arrange(source, screen) {
        let mut cells = table::row_cells(source, row);
        rows.push(
            visible
                .iter()
                .map(|&c| cells.get_mut(c).map(|(text, _)| std::mem::take(text)))
                .map(Option::unwrap_or_default)
                .collect(),
        );
    }
    align(&rows)
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

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use serde_json::Value;

    use super::*;
    use crate::model::fixture::{seed, stamped};
    use crate::model::sync::{ProxyStatus, ReplicaState, ReplicaSync, SyncState, XdsStatus};
    use crate::model::{ClusterEvent, Kind};
    use crate::ui::table::{truncate, truncate_middle};
    use crate::ui::{Header, Keymap, Theme, Ui};

    const VIEWS: [View; 6] = [
        View::Revisions,
        View::Gateways,
        View::Proxies,
        View::Disruption,
        View::Nodes,
        View::Namespaces,
    ];

    /// The seed after one of its two istiod replicas answered: proxies in sync, one stale,
    /// and the ones only the other replica reports still unknown.
    fn model() -> Model {
        let mut m = seed();
        let xds = |state| XdsStatus::new(state, "v2", "v1");
        let proxy = |namespace: &str, pod: &str, eds| ProxyStatus {
            proxy: format!("{pod}.{namespace}").as_str().into(),
            pod: pod.into(),
            namespace: namespace.into(),
            cluster: "".into(),
            proxy_type: "".into(),
            version: "1.10-alpha.ba8228cc703fa11542c3e97c1702688d072152a1".into(),
            xds: [
                xds(SyncState::Synced),
                xds(SyncState::Synced),
                xds(eds),
                xds(SyncState::Synced),
                xds(SyncState::NotSent),
                XdsStatus::ignored(),
                XdsStatus::ignored(),
            ],
        };
        m.apply(stamped(ClusterEvent::ProxySync(ReplicaSync {
            namespace: "istio-system".into(),
            istiod: "istiod-1-9-1-58ff56d6f8-25z28".into(),
            revision: "1-9-1".into(),
            state: ReplicaState::Ok {
                via: "port-forward",
                proxies: vec![
                    proxy("default", "details-v1-6f769b44-hzj8v", SyncState::Synced),
                    proxy("default", "reviews-v1-545db77b95-qvbm7", SyncState::Stale),
                ],
            },
        })));
        m
    }

    /// A table as text: its headers and each row's cells, left to right.
    #[derive(Debug)]
    struct Cells {
        headers: Vec<String>,
        rows: Vec<Vec<String>>,
    }

    /// Cuts a line into the columns that start at `starts`, each trimmed at its end.
    fn cut(line: &[char], starts: &[usize]) -> Vec<String> {
        starts
            .iter()
            .enumerate()
            .map(|(i, &start)| {
                let end = starts
                    .get(i + 1)
                    .copied()
                    .unwrap_or(line.len())
                    .min(line.len());
                let text: String = line.get(start..end).unwrap_or_default().iter().collect();
                text.trim_end().to_string()
            })
            .collect()
    }

    /// `meshtop get`'s table: headers are separated by three spaces or more.
    fn parse_get(text: &str) -> Cells {
        let lines: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
        let header = &lines[0];
        let mut starts = Vec::new();
        // The first header starts a column as if three blanks preceded it.
        let mut blanks = 3;
        for (x, c) in header.iter().enumerate() {
            if *c == ' ' {
                blanks += 1;
            } else {
                if blanks >= 3 {
                    starts.push(x);
                }
                blanks = 0;
            }
        }
        Cells {
            headers: cut(header, &starts),
            rows: lines[1..].iter().map(|l| cut(l, &starts)).collect(),
        }
    }

    /// The TUI's screen at `width`, one `Vec<char>` per line.
    fn draw_tui(model: &Model, view: View, width: u16) -> Vec<Vec<char>> {
        let mut ui = Ui::new(Keymap::default(), Theme::default());
        let digit = ViewKind::ALL
            .iter()
            .position(|k| *k == view_kind(view))
            .and_then(|i| char::from_digit(i as u32 + 1, 10))
            .expect("a digit key per view");
        ui.on_key(
            KeyEvent::new(KeyCode::Char(digit), KeyModifiers::NONE),
            model,
        );
        let (header, now) = seed_header();
        let mut terminal = Terminal::new(TestBackend::new(width, 60)).expect("terminal");
        terminal
            .draw(|frame| ui.render(frame, model, &header, now))
            .expect("draw");
        let buffer = terminal.backend().buffer();
        (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol().chars().next().unwrap_or(' '))
                    .collect()
            })
            .collect()
    }

    /// Where `header` starts in the TUI's header line at or after `from`: whole, or cut
    /// with `…` to fit its column.
    fn find_header(line: &[char], header: &str, from: usize) -> Option<usize> {
        let header: Vec<char> = header.chars().collect();
        (from..line.len()).find(|&x| {
            let starts_word = x == 0 || line[x - 1] == ' ';
            let whole = line[x..].starts_with(&header)
                && line.get(x + header.len()).is_none_or(|c| *c == ' ');
            let cut = (1..header.len())
                .any(|k| line[x..].starts_with(&header[..k]) && line.get(x + k) == Some(&'…'));
            starts_word && (whole || cut)
        })
    }

    /// The TUI's table: the columns start where the headers `get` printed do.
    fn parse_tui(screen: &[Vec<char>], title: &str, headers: &[String]) -> Cells {
        let top = screen
            .iter()
            .position(|l| l.starts_with(&format!("┌ {title} (").chars().collect::<Vec<_>>()))
            .unwrap_or_else(|| panic!("no {title} table on screen"));
        let inner = |l: &Vec<char>| l[1..l.len() - 1].to_vec();
        let header = inner(&screen[top + 1]);
        let mut starts: Vec<usize> = Vec::new();
        for h in headers {
            let from = starts.last().map_or(0, |s| s + 1);
            let x = find_header(&header, h, from).unwrap_or_else(|| {
                let line: String = header.iter().collect();
                panic!("{title}: no header {h} in {line:?}")
            });
            starts.push(x);
        }
        let rows = screen[top + 2..]
            .iter()
            .take_while(|l| l.first() == Some(&'│'))
            .map(inner)
            .filter(|l| l.iter().any(|c| *c != ' '))
            .map(|l| cut(&l, &starts))
            .collect();
        Cells {
            headers: cut(&header, &starts)
                .into_iter()
                .map(|h| h.trim_end_matches(' ').to_string())
                .collect(),
            rows,
        }
    }

    /// The TUI shows `full`, or `full` cut to the width it has (at its end, or in the
    /// middle for names that differ in their suffix).
    fn shows(tui: &str, full: &str) -> bool {
        let n = tui.chars().count();
        tui == full
            || (tui.ends_with('…') && truncate(full, n) == tui)
            || (tui.contains('…') && truncate_middle(full, n) == tui)
    }

    fn compare(model: &Model, view: View, width: u16) {
        let get = render(model, view, GetOutput::Table, width).expect("table");
        let get = parse_get(&get);
        let screen = draw_tui(model, view, width);
        let tui = parse_tui(&screen, view_kind(view).title(), &get.headers);
        let at = format!("{view:?} at {width}");
        assert!(!get.rows.is_empty(), "{at}: the seed has rows");
        assert_eq!(
            tui.rows.len(),
            get.rows.len(),
            "{at}: rows\n{tui:?}\n{get:?}"
        );
        assert_eq!(tui.headers.len(), get.headers.len(), "{at}");
        for (t, g) in tui.headers.iter().zip(&get.headers) {
            assert!(shows(t, g), "{at}: header {t:?} for {g:?}");
        }
        for (tr, gr) in tui.rows.iter().zip(&get.rows) {
            assert_eq!(tr.len(), gr.len(), "{at}");
            for (t, g) in tr.iter().zip(gr) {
                assert!(shows(t, g), "{at}: cell {t:?} for {g:?}\n{tr:?}\n{gr:?}");
            }
        }
    }

    #[test]
    fn get_prints_the_columns_and_cells_the_tui_shows_at_the_same_width() {
        let m = model();
        for view in VIEWS {
            for width in [80, 100, 120, 150, 160, 200] {
                compare(&m, view, width);
            }
        }
    }

    #[test]
    fn narrow_and_wide_disruption_headers_are_the_tuis() {
        let headers = |width| {
            parse_get(&render(&model(), View::Disruption, GetOutput::Table, width).expect("table"))
                .headers
        };
        assert_eq!(
            headers(200),
            [
                "NAMESPACE",
                "NAME",
                "MIN AVAILABLE",
                "MAX UNAVAILABLE",
                "ALLOWED DISRUPTIONS",
                "HEALTHY",
                "PODS",
                "BLOCKS DRAIN OF"
            ]
        );
        // The namespace stays at every width: it tells budgets of one name apart.
        assert_eq!(
            headers(100),
            [
                "NAMESPACE",
                "NAME",
                "MIN AVAIL",
                "MAX UNAVAIL",
                "ALLOWED",
                "BLOCKS DRAIN OF"
            ]
        );
        let every = headers(EVERY_COLUMN);
        assert_eq!(every, headers(200), "scripts get every column");
    }

    #[test]
    fn an_unset_budget_is_null_in_json_and_yaml_and_na_in_the_table() {
        let m = model();
        let json: Value = serde_json::from_str(
            &render(&m, View::Disruption, GetOutput::Json, 200).expect("json"),
        )
        .expect("parses");
        let rows = json.as_array().expect("array");
        let row = |name: &str| {
            rows.iter()
                .find(|r| r["name"] == name)
                .unwrap_or_else(|| panic!("no {name}"))
        };
        let es = row("elasticsearch-k1-master-pdb");
        assert_eq!(es["min_available"], Value::Null);
        assert_eq!(es["max_unavailable"], 1);
        let pilot = row("istio-pilot");
        assert_eq!(pilot["min_available"], 1);
        assert_eq!(pilot["max_unavailable"], Value::Null);
        let yaml = render(&m, View::Disruption, GetOutput::Yaml, 200).expect("yaml");
        for text in [json.to_string(), yaml.clone()] {
            assert!(!text.contains("N/A"), "{text}");
        }
        assert!(yaml.contains("min_available: null"), "{yaml}");

        // HEALTHY is `currentHealthy/desiredHealthy` in both, as the JSON says.
        assert_eq!(
            (&es["current_healthy"], &es["desired_healthy"]),
            (&2.into(), &2.into())
        );
        let table = parse_get(&render(&m, View::Disruption, GetOutput::Table, 200).expect("table"));
        let column = |h: &str| table.headers.iter().position(|x| x == h).expect(h);
        let es_row = table
            .rows
            .iter()
            .find(|r| r[column("NAME")] == "elasticsearch-k1-master-pdb")
            .expect("es row");
        assert_eq!(es_row[column("HEALTHY")], "2/2");
        assert_eq!(es_row[column("PODS")], "3");
        assert_eq!(es_row[column("MIN AVAILABLE")], "N/A");
        assert_eq!(es_row[column("MAX UNAVAILABLE")], "1");
    }

    #[test]
    fn columns_align() {
        let t = vec![
            vec!["A".into(), "LONG HEADER".into(), "C".into()],
            vec!["xxxx".into(), "y".into(), "z".into()],
        ];
        assert_eq!(
            align(&t),
            "A      LONG HEADER   C\nxxxx   y             z\n"
        );
    }

    /// The header of the seed's cluster, and the clock of its snapshots.
    fn seed_header() -> (Header, jiff::Timestamp) {
        let header = Header {
            context: "k1-admin@k1".into(),
            server: "https://192.168.0.11:6443".into(),
            namespace: None,
            readonly: false,
        };
        (header, "2020-01-09T07:15:42Z".parse().expect("timestamp"))
    }

    /// The demo cluster's objects with garbage in their fields, as a cluster may send them,
    /// through the watchers' projection into the model, then out through every view as a
    /// table, JSON and YAML at any width, and through the TUI at any size after random keys.
    #[test]
    fn garbage_from_the_cluster_is_printed_and_drawn_never_a_panic() {
        use serde::Deserialize as _;
        let scenario = include_str!("../assets/scenarios/k1-upgrade.yaml");
        let objects: Vec<(Kind, Value)> = serde_yaml::Deserializer::from_str(scenario)
            .filter_map(|doc| Value::deserialize(doc).ok())
            .filter_map(|v| {
                let kind = Kind::of_type(v.get("apiVersion")?.as_str()?, v.get("kind")?.as_str()?);
                Some((kind?, v))
            })
            .collect();
        assert!(objects.len() > 100, "{}", objects.len());
        let keys: Vec<KeyCode> = [
            'j', 'k', 'g', 'G', '/', 's', 'S', 'r', 'd', 'c', 'u', 'l', 'L', 'p', 'P', 'i', 'y',
            '?', 'x', ' ', '1', '7', '0', 'é',
        ]
        .into_iter()
        .map(KeyCode::Char)
        .chain([
            KeyCode::Down,
            KeyCode::Up,
            KeyCode::PageDown,
            KeyCode::End,
            KeyCode::Enter,
            KeyCode::Esc,
            KeyCode::Tab,
            KeyCode::Backspace,
            KeyCode::Left,
            KeyCode::Right,
        ])
        .collect();
        let (header, now) = seed_header();
        let mut g = crate::garbage::Garbage::new(0x7461_626c);
        let mut projected = 0;
        for _ in 0..25 {
            let mut interner = crate::model::intern::Interner::default();
            let mut model = Model::new();
            for (kind, object) in &objects {
                let mut object = object.clone();
                g.mutate(&mut object, 30);
                let Ok(dynamic) = serde_json::from_value(object) else {
                    continue;
                };
                if let Some(o) =
                    crate::model::project::object_from_dynamic(*kind, &dynamic, &mut interner)
                {
                    projected += 1;
                    model.apply(stamped(ClusterEvent::Applied(o)));
                }
            }
            for view in VIEWS {
                for output in [
                    GetOutput::Table,
                    GetOutput::Wide,
                    GetOutput::Name,
                    GetOutput::Json,
                    GetOutput::Yaml,
                ] {
                    let width = *g.pick(&[0, 1, 2, 9, 40, 80, 200, u16::MAX]);
                    let _ = render(&model, view, output, width);
                }
            }
            let mut ui = Ui::new(Keymap::default(), Theme::default());
            let (width, height) = (1 + g.below(160) as u16, 1 + g.below(50) as u16);
            let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
            for _ in 0..30 {
                let typed: Vec<KeyCode> = if g.one_in(5) {
                    g.text().chars().take(50).map(KeyCode::Char).collect()
                } else {
                    vec![*g.pick(&keys)]
                };
                for key in typed {
                    let _ = ui.on_key(KeyEvent::new(key, KeyModifiers::NONE), &model);
                }
                if g.one_in(3) {
                    terminal
                        .draw(|frame| ui.render(frame, &model, &header, now))
                        .expect("draw");
                }
            }
        }
        // Many objects survive the garbage: the views had rows to print and draw.
        assert!(projected > 25 * objects.len() / 4, "{projected}");
    }
}
