//! The reads behind the TUI's panes, each a task of its own: a GET for YAML, a GET and the
//! Events for a description, a followed log stream. Closing a pane aborts its task, which
//! closes its stream.

use std::collections::BTreeMap;

use futures::StreamExt as _;
use jiff::Timestamp;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::cluster::{Connection, inspect};
use crate::ops::inspect::{Inspect, describe_text, yaml_text};
use crate::ui::pane::{PaneId, PaneUpdate};

/// The open panes' reads.
pub struct PaneReads {
    tasks: BTreeMap<PaneId, JoinHandle<()>>,
    updates: mpsc::UnboundedSender<PaneUpdate>,
}

impl PaneReads {
    pub fn new(updates: mpsc::UnboundedSender<PaneUpdate>) -> Self {
        Self {
            tasks: BTreeMap::new(),
            updates,
        }
    }

    /// Starts the read of pane `id`.
    pub fn open(&mut self, connection: &Connection, id: PaneId, what: Inspect) {
        self.tasks.retain(|_, t| !t.is_finished());
        let connection = connection.clone();
        let updates = self.updates.clone();
        let task = tokio::spawn(async move {
            read(&connection, id, what, &updates).await;
        });
        self.tasks.insert(id, task);
    }

    /// Stops the reads of pane `id` (its log stream closes).
    pub fn close(&mut self, id: PaneId) {
        if let Some(task) = self.tasks.remove(&id) {
            task.abort();
        }
    }

    /// Stops every read: the connection they use is being replaced.
    pub fn close_all(&mut self) {
        for (_, task) in std::mem::take(&mut self.tasks) {
            task.abort();
        }
    }
}

impl Drop for PaneReads {
    fn drop(&mut self) {
        self.close_all();
    }
}

async fn read(
    connection: &Connection,
    id: PaneId,
    what: Inspect,
    updates: &mpsc::UnboundedSender<PaneUpdate>,
) {
    let send = |u: PaneUpdate| updates.send(u).is_ok();
    match what {
        Inspect::Yaml(object) => {
            let _ = send(match inspect::get(connection, &object).await {
                Ok(found) => PaneUpdate::Text {
                    id,
                    text: yaml_text(&found),
                },
                Err(why) => PaneUpdate::Failed { id, why },
            });
        }
        Inspect::Describe(object) => {
            let found = match inspect::get(connection, &object).await {
                Ok(found) => found,
                Err(why) => {
                    let _ = send(PaneUpdate::Failed { id, why });
                    return;
                }
            };
            let events = inspect::events(connection, &object).await;
            let text = describe_text(
                &found,
                events.as_deref().map_err(String::as_str),
                Timestamp::now(),
            );
            let _ = send(PaneUpdate::Text { id, text });
        }
        Inspect::Logs(pod) => {
            let (container, lines) = match inspect::follow_logs(connection, &pod).await {
                Ok(opened) => opened,
                Err(why) => {
                    let _ = send(PaneUpdate::Failed { id, why });
                    return;
                }
            };
            if !send(PaneUpdate::Following { id, container }) {
                return;
            }
            let mut lines = std::pin::pin!(lines);
            while let Some(line) = lines.next().await {
                let update = match line {
                    Ok(line) => PaneUpdate::Line { id, line },
                    Err(why) => {
                        let _ = send(PaneUpdate::Ended { id, why });
                        return;
                    }
                };
                if !send(update) {
                    return;
                }
            }
            let _ = send(PaneUpdate::Ended {
                id,
                why: "the API server closed it".into(),
            });
        }
    }
}
