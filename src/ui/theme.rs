//! Colors as data: `themes/*.toml` compiled in (`default`, `light`, `high-contrast`), or a
//! user file laid over the default. Every key is checked; a bad one is an error naming the
//! file and the key.

use std::path::Path;

use ratatui::style::{Color, Modifier, Style};

/// The built-in themes, by name.
pub const BUILTIN: [(&str, &str); 3] = [
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

/// A bad theme: names the file (or built-in) and the key.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("{origin}: {message}")]
    Syntax { origin: String, message: String },
    #[error("{origin}: key \"{key}\": {message}")]
    Key {
        origin: String,
        key: String,
        message: String,
    },
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "no theme {name:?}: not a built-in theme (default, light, high-contrast) and no such file"
    )]
    NotFound { name: String },
}

/// Every style the views use. Each field is a `[section]` of a theme file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    /// Body text and background.
    pub base: Style,
    /// Secondary text: empty cells, hints.
    pub dim: Style,
    pub border: Style,
    /// Panel titles.
    pub title: Style,
    /// The header bar.
    pub header: Style,
    /// Labels inside the header (`ctx`, `k8s`).
    pub header_label: Style,
    /// The READ-ONLY badge.
    pub readonly: Style,
    pub table_header: Style,
    pub selected: Style,
    pub footer_key: Style,
    pub footer_text: Style,
    /// The `/` and `:` prompts.
    pub prompt: Style,
    /// A status message (unknown command, ...).
    pub status: Style,
    /// Healthy values: 2/2, SYNCED, ok.
    pub good: Style,
    /// Needs attention: skew, cordoned, restart.
    pub warn: Style,
    /// Broken or blocking: 0 allowed disruptions, missing ConfigMap.
    pub bad: Style,
    pub source_ready: Style,
    pub source_syncing: Style,
    pub source_forbidden: Style,
    pub source_absent: Style,
    pub source_error: Style,
    pub severity_info: Style,
    pub severity_warning: Style,
    pub severity_error: Style,
    /// Proxy sync states, istioctl's words: SYNCED.
    pub sync_synced: Style,
    /// NOT SENT (and IGNORED): nothing to send, normal for some types.
    pub sync_not_sent: Style,
    /// STALE and STALE (Never Acknowledged): sent, not acknowledged.
    pub sync_stale: Style,
    /// ERROR: the proxy rejected the last push.
    pub sync_error: Style,
    /// No state known: the istiod does not answer, or no istiod reports the proxy.
    pub sync_unknown: Style,
}

const SECTIONS: [&str; 29] = [
    "base",
    "dim",
    "border",
    "title",
    "header",
    "header_label",
    "readonly",
    "table_header",
    "selected",
    "footer_key",
    "footer_text",
    "prompt",
    "status",
    "good",
    "warn",
    "bad",
    "source_ready",
    "source_syncing",
    "source_forbidden",
    "source_absent",
    "source_error",
    "severity_info",
    "severity_warning",
    "severity_error",
    "sync_synced",
    "sync_not_sent",
    "sync_stale",
    "sync_error",
    "sync_unknown",
];

impl Theme {
    fn slot(&mut self, section: &str) -> Option<&mut Style> {
        Some(match section {
            "base" => &mut self.base,
            "dim" => &mut self.dim,
            "border" => &mut self.border,
            "title" => &mut self.title,
            "header" => &mut self.header,
            "header_label" => &mut self.header_label,
            "readonly" => &mut self.readonly,
            "table_header" => &mut self.table_header,
            "selected" => &mut self.selected,
            "footer_key" => &mut self.footer_key,
            "footer_text" => &mut self.footer_text,
            "prompt" => &mut self.prompt,
            "status" => &mut self.status,
            "good" => &mut self.good,
            "warn" => &mut self.warn,
            "bad" => &mut self.bad,
            "source_ready" => &mut self.source_ready,
            "source_syncing" => &mut self.source_syncing,
            "source_forbidden" => &mut self.source_forbidden,
            "source_absent" => &mut self.source_absent,
            "source_error" => &mut self.source_error,
            "severity_info" => &mut self.severity_info,
            "severity_warning" => &mut self.severity_warning,
            "severity_error" => &mut self.severity_error,
            "sync_synced" => &mut self.sync_synced,
            "sync_not_sent" => &mut self.sync_not_sent,
            "sync_stale" => &mut self.sync_stale,
            "sync_error" => &mut self.sync_error,
            "sync_unknown" => &mut self.sync_unknown,
            _ => return None,
        })
    }

    /// All styles empty: the terminal's own colors. The base of every theme file.
    fn blank() -> Theme {
        let s = Style::new();
        Theme {
            base: s,
            dim: s,
            border: s,
            title: s,
            header: s,
            header_label: s,
            readonly: s,
            table_header: s,
            selected: s,
            footer_key: s,
            footer_text: s,
            prompt: s,
            status: s,
            good: s,
            warn: s,
            bad: s,
            source_ready: s,
            source_syncing: s,
            source_forbidden: s,
            source_absent: s,
            source_error: s,
            severity_info: s,
            severity_warning: s,
            severity_error: s,
            sync_synced: s,
            sync_not_sent: s,
            sync_stale: s,
            sync_error: s,
            sync_unknown: s,
        }
    }

    /// No color at all (`NO_COLOR`): only bold, reverse and underline tell things apart.
    pub fn no_color() -> Theme {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        Theme {
            title: bold,
            header: bold,
            readonly: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            table_header: bold,
            selected: Style::new().add_modifier(Modifier::REVERSED),
            footer_key: bold,
            prompt: bold,
            status: bold,
            bad: bold,
            source_forbidden: bold,
            source_error: bold,
            severity_error: bold,
            sync_stale: Style::new().add_modifier(Modifier::UNDERLINED),
            sync_error: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            sync_unknown: Style::new().add_modifier(Modifier::UNDERLINED),
            ..Theme::blank()
        }
    }

    /// A built-in theme by name.
    pub fn builtin(name: &str) -> Option<Theme> {
        let (_, src) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        match Theme::parse(src, &format!("themes/{name}.toml"), Theme::blank()) {
            Ok(t) => Some(t),
            Err(e) => {
                // A unit test proves every built-in parses.
                tracing::error!(error = %e, "built-in theme is invalid");
                None
            }
        }
    }

    /// A built-in theme name, else a file path. A file is laid over the default theme, so
    /// it only needs the keys it changes.
    pub fn load(name_or_path: &str) -> Result<Theme, ThemeError> {
        if let Some(t) = Theme::builtin(name_or_path) {
            return Ok(t);
        }
        let path = Path::new(name_or_path);
        if !path.exists() {
            return Err(ThemeError::NotFound {
                name: name_or_path.into(),
            });
        }
        let src = std::fs::read_to_string(path).map_err(|source| ThemeError::Read {
            path: name_or_path.into(),
            source,
        })?;
        Theme::parse(&src, name_or_path, Theme::default())
    }

    /// Parses a theme file over `base`; `origin` names the file in errors.
    pub fn parse(src: &str, origin: &str, base: Theme) -> Result<Theme, ThemeError> {
        let table: toml::Table = toml::from_str(src).map_err(|e| ThemeError::Syntax {
            origin: origin.into(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let mut theme = base;
        let key_err = |key: String, message: String| ThemeError::Key {
            origin: origin.into(),
            key,
            message,
        };
        for (section, value) in &table {
            let Some(style) = theme.slot(section) else {
                return Err(key_err(
                    section.clone(),
                    format!("unknown key (known: {})", SECTIONS.join(", ")),
                ));
            };
            let toml::Value::Table(fields) = value else {
                return Err(key_err(
                    section.clone(),
                    format!("expected a table, like [{section}] with fg = \"white\""),
                ));
            };
            for (field, v) in fields {
                let key = format!("{section}.{field}");
                match field.as_str() {
                    "fg" | "bg" => {
                        let toml::Value::String(s) = v else {
                            return Err(key_err(
                                key,
                                "expected a color name or \"#rrggbb\"".into(),
                            ));
                        };
                        let color = parse_color(s)
                            .ok_or_else(|| key_err(key.clone(), format!("unknown color {s:?}")))?;
                        *style = if field == "fg" {
                            style.fg(color)
                        } else {
                            style.bg(color)
                        };
                    }
                    "bold" | "dim" | "italic" | "underline" | "reversed" => {
                        let toml::Value::Boolean(on) = v else {
                            return Err(key_err(key, "expected true or false".into()));
                        };
                        let m = match field.as_str() {
                            "bold" => Modifier::BOLD,
                            "dim" => Modifier::DIM,
                            "italic" => Modifier::ITALIC,
                            "underline" => Modifier::UNDERLINED,
                            _ => Modifier::REVERSED,
                        };
                        *style = if *on {
                            style.add_modifier(m)
                        } else {
                            style.remove_modifier(m)
                        };
                    }
                    _ => {
                        return Err(key_err(
                            key,
                            "unknown key (known: fg, bg, bold, dim, italic, underline, reversed)"
                                .into(),
                        ));
                    }
                }
            }
        }
        Ok(theme)
    }
}

/// Names ratatui knows (`red`, `light-blue`, `dark-gray`, `reset`), `#rrggbb`, or a 256-color
/// index.
fn parse_color(s: &str) -> Option<Color> {
    s.parse::<Color>().ok()
}

impl Default for Theme {
    /// The built-in dark theme.
    fn default() -> Self {
        Theme::builtin("default").unwrap_or_else(Theme::no_color)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_and_sets_every_section() {
        for (name, src) in BUILTIN {
            let t = Theme::parse(src, name, Theme::blank()).expect(name);
            let table: toml::Table = toml::from_str(src).expect(name);
            for s in SECTIONS {
                assert!(table.contains_key(s), "{name} lacks [{s}]");
            }
            assert_ne!(t, Theme::blank());
        }
        assert_eq!(
            Theme::load("light").expect("light"),
            Theme::builtin("light").expect("light")
        );
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let err = Theme::parse(
            "[header]\nfg = \"purplish\"\n",
            "themes/x.toml",
            Theme::blank(),
        )
        .expect_err("bad color");
        assert_eq!(
            err.to_string(),
            "themes/x.toml: key \"header.fg\": unknown color \"purplish\""
        );
        let err = Theme::parse("[header]\nfgg = \"red\"\n", "x.toml", Theme::blank())
            .expect_err("unknown field");
        assert!(
            err.to_string()
                .starts_with("x.toml: key \"header.fgg\": unknown key"),
            "{err}"
        );
        let err = Theme::parse("[heder]\nfg = \"red\"\n", "x.toml", Theme::blank())
            .expect_err("unknown section");
        assert!(
            err.to_string()
                .starts_with("x.toml: key \"heder\": unknown key"),
            "{err}"
        );
        let err = Theme::parse("[header]\nbold = \"yes\"\n", "x.toml", Theme::blank())
            .expect_err("not a bool");
        assert!(err.to_string().contains("\"header.bold\""), "{err}");
        let err = Theme::parse("[header\n", "x.toml", Theme::blank()).expect_err("syntax");
        assert!(err.to_string().starts_with("x.toml: "), "{err}");
    }

    #[test]
    fn a_user_file_overrides_the_default() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mine.toml");
        std::fs::write(&path, "[bad]\nfg = \"#ff0000\"\nbold = true\n").expect("write");
        let t = Theme::load(path.to_str().expect("utf-8")).expect("load");
        assert_eq!(t.bad.fg, Some(Color::Rgb(255, 0, 0)));
        assert!(t.bad.add_modifier.contains(Modifier::BOLD));
        assert_eq!(t.good, Theme::default().good);
        let err = Theme::load("no-such-theme").expect_err("missing");
        assert!(err.to_string().contains("no-such-theme"), "{err}");
    }

    #[test]
    fn no_color_has_no_color() {
        let t = Theme::no_color();
        for s in SECTIONS {
            let mut t = t.clone();
            let style = *t.slot(s).expect(s);
            assert_eq!(style.fg, None, "{s}");
            assert_eq!(style.bg, None, "{s}");
        }
    }
}
