//! The line editor of `sweep query`'s shell: arrows move in the line and through the history,
//! Home/End, Backspace/Delete, Ctrl-C drops the line, Ctrl-D on an empty line quits.
//!
//! The editing is a plain state machine ([`Line`]) so that it is tested without a terminal;
//! [`LineEditor`] only reads keys from the terminal and redraws the line.

use std::io::Write;
use std::path::{Path, PathBuf};

use console::{Key, Term};

/// How many statements the history file keeps when it is read back.
const HISTORY_KEPT: usize = 1000;

/// What the caller gets for one line read.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    Line(String),
    /// Ctrl-C: the line was dropped; ask again.
    Interrupted,
    /// Ctrl-D on an empty line.
    EndOfInput,
}

/// The line being edited, the cursor in it (in chars) and the place in the history.
#[derive(Debug, Default)]
pub struct Line {
    chars: Vec<char>,
    cursor: usize,
    /// Index into the history while browsing it with the arrows; `None` on the new line.
    browsing: Option<usize>,
    /// The new line, kept while the user browses the history.
    draft: Vec<char>,
}

/// What a key did to the line.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Edited,
    Done(Read),
    Ignored,
}

impl Line {
    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn apply(&mut self, key: Key, history: &[String]) -> Outcome {
        match key {
            Key::Enter => Outcome::Done(Read::Line(self.text())),
            Key::CtrlC | Key::Char('\u{3}') => Outcome::Done(Read::Interrupted),
            Key::Char('\u{4}') if self.chars.is_empty() => Outcome::Done(Read::EndOfInput),
            Key::Char('\u{4}') | Key::Del => {
                if self.cursor < self.chars.len() {
                    self.chars.remove(self.cursor);
                    return Outcome::Edited;
                }
                Outcome::Ignored
            }
            Key::Backspace | Key::Char('\u{7f}') | Key::Char('\u{8}') => {
                if self.cursor > 0 {
                    self.cursor -= 1;
                    self.chars.remove(self.cursor);
                    return Outcome::Edited;
                }
                Outcome::Ignored
            }
            Key::ArrowLeft | Key::Char('\u{2}') => self.move_to(self.cursor.saturating_sub(1)),
            Key::ArrowRight | Key::Char('\u{6}') => self.move_to((self.cursor + 1).min(self.chars.len())),
            Key::Home | Key::Char('\u{1}') => self.move_to(0),
            Key::End | Key::Char('\u{5}') => self.move_to(self.chars.len()),
            // Ctrl-U: drop everything before the cursor, as in a shell.
            Key::Char('\u{15}') => {
                self.chars.drain(..self.cursor);
                self.cursor = 0;
                Outcome::Edited
            }
            Key::ArrowUp | Key::Char('\u{10}') => {
                let previous = match self.browsing {
                    None if !history.is_empty() => history.len() - 1,
                    Some(i) if i > 0 => i - 1,
                    _ => return Outcome::Ignored,
                };
                if self.browsing.is_none() {
                    self.draft = std::mem::take(&mut self.chars);
                }
                self.show(previous, history)
            }
            Key::ArrowDown | Key::Char('\u{e}') => match self.browsing {
                Some(i) if i + 1 < history.len() => self.show(i + 1, history),
                Some(_) => {
                    self.browsing = None;
                    self.chars = std::mem::take(&mut self.draft);
                    self.cursor = self.chars.len();
                    Outcome::Edited
                }
                None => Outcome::Ignored,
            },
            Key::Tab => self.insert(' '),
            Key::Char(c) if !c.is_control() => self.insert(c),
            _ => Outcome::Ignored,
        }
    }

    fn insert(&mut self, c: char) -> Outcome {
        self.chars.insert(self.cursor, c);
        self.cursor += 1;
        Outcome::Edited
    }

    fn move_to(&mut self, cursor: usize) -> Outcome {
        if cursor == self.cursor {
            return Outcome::Ignored;
        }
        self.cursor = cursor;
        Outcome::Edited
    }

    fn show(&mut self, index: usize, history: &[String]) -> Outcome {
        self.browsing = Some(index);
        // A statement of several lines comes back as one line: SQL does not mind.
        self.chars = history[index].split_whitespace().collect::<Vec<_>>().join(" ").chars().collect();
        self.cursor = self.chars.len();
        Outcome::Edited
    }
}

/// Reads lines from the terminal with editing and a history kept in a file.
pub struct LineEditor {
    term: Term,
    history: Vec<String>,
    history_path: PathBuf,
}

impl LineEditor {
    /// Reads the history file's last statements; a missing or unreadable file is an empty
    /// history (the shell works without one).
    pub fn new(history_path: &Path) -> Self {
        let history = std::fs::read_to_string(history_path)
            .map(|text| {
                let lines: Vec<String> = text.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect();
                let start = lines.len().saturating_sub(HISTORY_KEPT);
                lines[start..].to_vec()
            })
            .unwrap_or_default();
        LineEditor { term: Term::stderr(), history, history_path: history_path.to_path_buf() }
    }

    pub fn history_path(&self) -> &Path {
        &self.history_path
    }

    /// Appends a statement to the history, in memory and in the file (one line each, so
    /// that the file is greppable).
    pub fn remember(&mut self, statement: &str) {
        let one_line = statement.split_whitespace().collect::<Vec<_>>().join(" ");
        if one_line.is_empty() || self.history.last() == Some(&one_line) {
            return;
        }
        if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(&self.history_path) {
            let _ = writeln!(file, "{one_line}");
        }
        self.history.push(one_line);
    }

    pub fn read(&mut self, prompt: &str) -> std::io::Result<Read> {
        let mut line = Line::default();
        self.term.write_str(prompt)?;
        loop {
            let key = self.term.read_key_raw()?;
            match line.apply(key, &self.history) {
                Outcome::Done(read) => {
                    self.term.write_line(if matches!(read, Read::Interrupted) { "^C" } else { "" })?;
                    return Ok(read);
                }
                Outcome::Edited => self.redraw(prompt, &line)?,
                Outcome::Ignored => {}
            }
        }
    }

    fn redraw(&self, prompt: &str, line: &Line) -> std::io::Result<()> {
        let text = line.text();
        let behind = text.chars().count() - line.cursor();
        self.term.clear_line()?;
        self.term.write_str(prompt)?;
        self.term.write_str(&text)?;
        self.term.move_cursor_left(behind)?;
        self.term.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(line: &mut Line, text: &str, history: &[String]) {
        for c in text.chars() {
            line.apply(Key::Char(c), history);
        }
    }

    #[test]
    fn typing_and_moving_edit_in_the_middle() {
        let mut line = Line::default();
        typed(&mut line, "SELEC 1", &[]);
        for _ in 0..2 {
            line.apply(Key::ArrowLeft, &[]);
        }
        typed(&mut line, "T", &[]);
        assert_eq!(line.text(), "SELECT 1");
        line.apply(Key::Home, &[]);
        line.apply(Key::Del, &[]);
        line.apply(Key::End, &[]);
        line.apply(Key::Backspace, &[]);
        assert_eq!(line.text(), "ELECT ");
        assert_eq!(line.apply(Key::Enter, &[]), Outcome::Done(Read::Line("ELECT ".into())));
    }

    #[test]
    fn arrows_walk_the_history_and_come_back_to_the_draft() {
        let history = vec!["SELECT 1;".to_string(), "SELECT\n  2;".to_string()];
        let mut line = Line::default();
        typed(&mut line, "SEL", &history);
        line.apply(Key::ArrowUp, &history);
        assert_eq!(line.text(), "SELECT 2;");
        line.apply(Key::ArrowUp, &history);
        assert_eq!(line.text(), "SELECT 1;");
        assert_eq!(line.apply(Key::ArrowUp, &history), Outcome::Ignored, "the oldest statement is the end");
        line.apply(Key::ArrowDown, &history);
        line.apply(Key::ArrowDown, &history);
        assert_eq!(line.text(), "SEL", "the line being typed comes back");
        assert_eq!(line.apply(Key::ArrowDown, &history), Outcome::Ignored);
    }

    #[test]
    fn ctrl_d_quits_only_on_an_empty_line_and_ctrl_c_drops_the_line() {
        let mut line = Line::default();
        typed(&mut line, "ab", &[]);
        line.apply(Key::ArrowLeft, &[]);
        assert_eq!(line.apply(Key::Char('\u{4}'), &[]), Outcome::Edited, "Ctrl-D deletes under the cursor");
        assert_eq!(line.text(), "a");
        assert_eq!(line.apply(Key::CtrlC, &[]), Outcome::Done(Read::Interrupted));
        assert_eq!(Line::default().apply(Key::Char('\u{4}'), &[]), Outcome::Done(Read::EndOfInput));
    }

    #[test]
    fn multibyte_characters_are_one_cursor_step() {
        let mut line = Line::default();
        typed(&mut line, "é€x", &[]);
        line.apply(Key::Backspace, &[]);
        line.apply(Key::ArrowLeft, &[]);
        line.apply(Key::Backspace, &[]);
        assert_eq!(line.text(), "€");
    }

    #[test]
    fn the_history_file_keeps_one_line_per_statement_without_repeats() {
        let dir = std::env::temp_dir().join(format!("sweep-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history");
        let mut editor = LineEditor::new(&path);
        editor.remember("SELECT\n 1;");
        editor.remember("SELECT 1;");
        editor.remember("SHOW TABLES;");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "SELECT 1;\nSHOW TABLES;\n");
        assert_eq!(LineEditor::new(&path).history, vec!["SELECT 1;", "SHOW TABLES;"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
