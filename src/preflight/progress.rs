//! The progress line `altgate audit` draws on a terminal while it reads: objects read so far
//! per forest, from the global catalogs and from the domain controllers, redrawn in place at
//! most ten times a second. Only used when stderr is a terminal; otherwise reading is silent.

use super::collect::{Progress, Source};
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SPINNER: &[char] = &['|', '/', '-', '\\'];
const REDRAW: Duration = Duration::from_millis(100);

#[derive(Default)]
struct Forest {
    name: String,
    global_catalog: u64,
    domain_controllers: u64,
    done: bool,
}

struct State {
    forests: Vec<Forest>,
    drawn: Option<Instant>,
    frame: usize,
}

/// A progress line on a terminal.
pub struct Line<W: Write + Send> {
    state: Mutex<State>,
    out: Mutex<W>,
}

/// `12345` as `12,345`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl<W: Write + Send> Line<W> {
    /// A line for `forests` (in this order), written to `out`.
    pub fn new(forests: &[String], out: W) -> Self {
        Line {
            state: Mutex::new(State {
                forests: forests
                    .iter()
                    .map(|f| Forest {
                        name: f.clone(),
                        ..Default::default()
                    })
                    .collect(),
                drawn: None,
                frame: 0,
            }),
            out: Mutex::new(out),
        }
    }

    /// The line as it would be drawn now.
    fn text(state: &State) -> String {
        let spin = SPINNER
            .get(state.frame % SPINNER.len())
            .copied()
            .unwrap_or('|');
        let parts: Vec<String> = state
            .forests
            .iter()
            .map(|f| {
                let mark = if f.done { "done" } else { "" };
                format!(
                    "{} {} read (GC), {} (DC){}{mark}",
                    f.name,
                    thousands(f.global_catalog),
                    thousands(f.domain_controllers),
                    if f.done { " " } else { "" }
                )
            })
            .collect();
        format!("{spin} reading: {}", parts.join(" | "))
    }

    fn draw(&self, state: &mut State, force: bool) {
        let now = Instant::now();
        if !force && state.drawn.is_some_and(|t| now.duration_since(t) < REDRAW) {
            return;
        }
        state.drawn = Some(now);
        state.frame += 1;
        let line = Self::text(state);
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = write!(out, "\r\x1b[2K{line}");
        let _ = out.flush();
    }

    /// Clears the line (the report follows).
    pub fn clear(&self) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = write!(out, "\r\x1b[2K");
        let _ = out.flush();
    }
}

impl<W: Write + Send> Progress for Line<W> {
    fn read(&self, forest: &str, source: Source, objects: u64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = state.forests.iter_mut().find(|f| f.name == forest) {
            match source {
                Source::GlobalCatalog => f.global_catalog = objects,
                Source::DomainControllers => f.domain_controllers = objects,
            }
        }
        self.draw(&mut state, false);
    }

    fn finished(&self, forest: &str) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = state.forests.iter_mut().find(|f| f.name == forest) {
            f.done = true;
        }
        self.draw(&mut state, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn draws_per_forest_counts_in_place() {
        let line = Line::new(&["contoso.com".into(), "fabrikam.com".into()], Vec::new());
        line.read("contoso.com", Source::GlobalCatalog, 1500);
        line.read("contoso.com", Source::DomainControllers, 500);
        line.finished("fabrikam.com");
        let out = String::from_utf8(line.out.into_inner().expect("lock")).expect("utf8");
        assert!(out.starts_with("\r\x1b[2K"), "{out:?}");
        let last = out.rsplit("\r\x1b[2K").next().unwrap_or("");
        assert!(
            last.contains("contoso.com 1,500 read (GC), 500 (DC)")
                && last.contains("fabrikam.com 0 read (GC), 0 (DC) done"),
            "{last}"
        );
    }
}
