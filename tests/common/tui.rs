//! The TUI without a terminal: keys pressed into `Ui`, the commands it answers with, and a
//! frame drawn on ratatui's `TestBackend` as text.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use jiff::Timestamp;
use meshtop::model::Model;
use meshtop::ui::action::ActionRun;
use meshtop::ui::{Command, Header, Keymap, Theme, Ui};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::seed;

/// The header of the seed's cluster as a user's kubeconfig names it.
pub fn header() -> Header {
    Header {
        context: "k1-admin@k1".into(),
        server: "https://192.168.0.11:6443".into(),
        namespace: None,
        readonly: false,
    }
}

/// The TUI with the default keys and theme.
pub fn new_ui() -> Ui {
    Ui::new(Keymap::default(), Theme::default())
}

/// A frame of `width` x `height` as text, one line per row, trailing blanks trimmed.
pub fn render(
    ui: &Ui,
    model: &Model,
    header: &Header,
    now: Timestamp,
    width: u16,
    height: u16,
) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal
        .draw(|frame| ui.render(frame, model, header, now))
        .expect("draw");
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        let mut line = String::new();
        for x in 0..buffer.area.width {
            line.push_str(buffer[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A frame under the seed's header, at the seed's fixed clock.
pub fn draw(ui: &Ui, model: &Model, width: u16, height: u16) -> String {
    render(ui, model, &header(), seed::now(), width, height)
}

pub fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// One key pressed; the commands it sent.
pub fn press_key(ui: &mut Ui, model: &Model, code: KeyCode) -> Vec<Command> {
    ui.on_key(key(code), model)
}

/// Each character of `keys` pressed in turn; the commands they sent.
pub fn press(ui: &mut Ui, model: &Model, keys: &str) -> Vec<Command> {
    keys.chars()
        .flat_map(|c| press_key(ui, model, KeyCode::Char(c)))
        .collect()
}

/// The actions among `commands`.
pub fn runs(commands: &[Command]) -> Vec<&ActionRun> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Run(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// A tiny deterministic generator for random key sequences.
pub struct Lcg(pub u64);

impl Lcg {
    /// The next number below `n`.
    pub fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

/// What a random session types.
#[derive(Clone, Copy)]
pub enum Typed {
    Key(KeyCode),
    /// A whole word: a right or a wrong name.
    Word(&'static str),
    /// A word, then enter.
    Entered(&'static str),
}

impl Typed {
    /// The keys pressed for it.
    pub fn codes(self) -> Vec<KeyCode> {
        match self {
            Typed::Key(k) => vec![k],
            Typed::Word(w) => w.chars().map(KeyCode::Char).collect(),
            Typed::Entered(w) => w
                .chars()
                .map(KeyCode::Char)
                .chain([KeyCode::Enter])
                .collect(),
        }
    }
}
