//! Spec errors as miette diagnostics: `file:line:col`, the offending text underlined, and a
//! "did you mean" where one applies.

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceSpan};
use serde_saphyr::Location;

/// One problem in a spec file.
#[derive(Debug, Clone)]
pub struct Issue {
    pub message: String,
    pub span: SourceSpan,
    pub label: String,
    pub help: Option<String>,
    pub src: NamedSource<Arc<String>>,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Issue {}

impl Diagnostic for Issue {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        None
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.src)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(
            LabeledSpan::new_primary_with_span(Some(self.label.clone()), self.span),
        )))
    }
}

/// Every problem found in one file.
#[derive(Debug, Clone)]
pub struct SpecError {
    pub file: String,
    pub issues: Vec<Issue>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.issues.len();
        write!(
            f,
            "{}: {n} problem{}",
            self.file,
            if n == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for SpecError {}

/// Lines longer than this are cut when shown: an error never echoes more than a screen.
pub const MAX_SHOWN_LINE: usize = 300;

/// Collects issues against one source text.
pub struct Issues {
    src: NamedSource<Arc<String>>,
    text: Arc<String>,
    /// The lines cut in `src`.
    cuts: Vec<Cut>,
    pub list: Vec<Issue>,
    /// What is allowed but probably unwise (shown; the spec is still valid).
    pub warnings: Vec<String>,
}

impl Issues {
    pub fn new(file: &str, text: Arc<String>) -> Self {
        let (shown, cuts) = cut_long_lines(&text);
        Issues {
            src: NamedSource::new(file, Arc::new(shown)),
            text,
            cuts,
            list: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The text at `at` up to the end of its token (for messages that depend on the value).
    pub fn token(&self, at: &Location) -> &str {
        let span = span_at(&self.text, at);
        &self.text[span.offset()..span.offset() + span.len()]
    }

    pub fn push(
        &mut self,
        at: &Location,
        message: impl Into<String>,
        label: impl Into<String>,
        help: Option<String>,
    ) {
        let span = span_at(&self.text, at);
        self.push_span(span, message, label, help);
    }

    /// An issue at 1-based `line` and `column` (in characters).
    pub fn push_at(
        &mut self,
        line: usize,
        column: usize,
        message: impl Into<String>,
        label: impl Into<String>,
        help: Option<String>,
    ) {
        let span = span_at_line_col(&self.text, line, column);
        self.push_span(span, message, label, help);
    }

    fn push_span(
        &mut self,
        span: SourceSpan,
        message: impl Into<String>,
        label: impl Into<String>,
        help: Option<String>,
    ) {
        let issue = Issue {
            message: message.into(),
            span: self.shown_span(span),
            label: label.into(),
            help,
            src: self.src.clone(),
        };
        self.list.push(issue);
    }

    /// A warning at `at`: shown, and the spec stays valid. One line with `file:line:col`, no
    /// source excerpt (the value there may be a secret).
    pub fn warn(&mut self, at: &Location, message: impl Into<String>, help: Option<String>) {
        let mut w = format!(
            "warning: {}:{}:{}: {}",
            self.src.name(),
            at.line(),
            at.column(),
            message.into()
        );
        if let Some(h) = help {
            w.push_str(&format!("\n  help: {h}"));
        }
        self.warnings.push(w);
    }

    /// A warning about the spec as a whole (something it lacks): one line with the file.
    pub fn warn_top(&mut self, message: impl Into<String>, help: Option<String>) {
        let mut w = format!("warning: {}: {}", self.src.name(), message.into());
        if let Some(h) = help {
            w.push_str(&format!("\n  help: {h}"));
        }
        self.warnings.push(w);
    }

    /// `span` (in the text) in the shown text, where long lines are cut.
    fn shown_span(&self, span: SourceSpan) -> SourceSpan {
        let start = shown_offset(&self.cuts, span.offset());
        let end = shown_offset(&self.cuts, span.offset() + span.len()).max(start);
        SourceSpan::new(start.into(), end - start)
    }

    /// An issue with no better place to point at than the start of the file.
    pub fn push_top(&mut self, message: impl Into<String>, help: Option<String>) {
        self.push(&Location::UNKNOWN, message, "here", help);
    }

    pub fn into_result(self, file: &str) -> Result<(), SpecError> {
        if self.list.is_empty() {
            Ok(())
        } else {
            Err(SpecError {
                file: file.to_string(),
                issues: self.list,
            })
        }
    }
}

/// A line of the text shown cut: it starts at `start` in the text, `body` bytes long (without
/// the line break); the first `kept` bytes are shown, then a marker of `marker` bytes.
#[derive(Debug, Clone, Copy)]
struct Cut {
    start: usize,
    body: usize,
    kept: usize,
    marker: usize,
}

/// Where offset `o` of the text is in the shown text.
fn shown_offset(cuts: &[Cut], o: usize) -> usize {
    let mut delta: isize = 0;
    for c in cuts {
        if o < c.start + c.kept {
            break;
        }
        if o < c.start + c.body {
            return (c.start as isize + delta) as usize + c.kept;
        }
        delta += (c.kept + c.marker) as isize - c.body as isize;
    }
    (o as isize + delta) as usize
}

/// `text` with every line longer than [`MAX_SHOWN_LINE`] characters cut (and a marker saying how
/// much was left out), and where the cuts are.
fn cut_long_lines(text: &str) -> (String, Vec<Cut>) {
    let mut out = String::with_capacity(text.len().min(1 << 20));
    let mut cuts = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let n = body.chars().count();
        if n > MAX_SHOWN_LINE {
            let kept = body
                .char_indices()
                .nth(MAX_SHOWN_LINE)
                .map(|(b, _)| b)
                .unwrap_or(body.len());
            let marker = format!("…({} more characters)", n - MAX_SHOWN_LINE);
            out.push_str(&body[..kept]);
            out.push_str(&marker);
            out.push_str(&line[body.len()..]);
            cuts.push(Cut {
                start: offset,
                body: body.len(),
                kept,
                marker: marker.len(),
            });
        } else {
            out.push_str(line);
        }
        offset += line.len();
    }
    (out, cuts)
}

/// Byte span of the YAML token at `loc` (1-based line and column).
pub fn span_at(text: &str, loc: &Location) -> SourceSpan {
    span_at_line_col(text, loc.line() as usize, loc.column() as usize)
}

/// Byte span of the YAML token at 1-based `line` and `column`.
pub fn span_at_line_col(text: &str, line_no: usize, column: usize) -> SourceSpan {
    if line_no == 0 {
        return SourceSpan::new(0.into(), 0);
    }
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line_no {
            let col = column.saturating_sub(1);
            let start = offset
                + line
                    .char_indices()
                    .nth(col)
                    .map(|(b, _)| b)
                    .unwrap_or(line.trim_end().len());
            let rest = &text[start..];
            let len = token_len(rest);
            return SourceSpan::new(start.into(), len);
        }
        offset += line.len();
    }
    SourceSpan::new(text.len().saturating_sub(1).into(), 0)
}

fn token_len(rest: &str) -> usize {
    let line = rest.split('\n').next().unwrap_or("");
    let line = line.trim_end_matches('\r');
    let mut chars = line.char_indices();
    match line.chars().next() {
        Some(q @ ('"' | '\'')) => {
            chars.next();
            for (i, c) in chars {
                if c == q {
                    return i + 1;
                }
            }
            line.len()
        }
        Some('[') | Some('{') => line.trim_end().len().max(1),
        _ => {
            let end = line.find(['#', ',', ']', '}']).unwrap_or(line.len());
            let tok = line[..end].trim_end();
            // `key: value` on the same line: underline only the key.
            let tok = match tok.find(": ") {
                Some(i) => &tok[..i],
                None => tok.strip_suffix(':').unwrap_or(tok),
            };
            tok.len().max(1)
        }
    }
}

/// The closest candidate to `word`, if close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("imgae", ["image", "port", "cpu"]),
            Some("image")
        );
        assert_eq!(did_you_mean("zzz", ["image", "port"]), None);
    }

    #[test]
    fn long_lines_are_cut_and_spans_follow() {
        let long = "x".repeat(1000);
        let text = Arc::new(format!("a: {long}\nb: 1\n"));
        let mut issues = Issues::new("f.yaml", text.clone());
        issues.push_at(2, 4, "m", "l", None);
        issues.push_at(1, 500, "m", "l", None);
        let shown = issues.list[0].src.inner().as_str().to_string();
        assert!(shown.len() < 400, "{shown}");
        assert!(shown.contains("…(703 more characters)"), "{shown}");
        let at = issues.list[0].span.offset();
        assert_eq!(&shown[at..at + 1], "1");
        let at = issues.list[1].span.offset();
        assert!(shown[at..].starts_with('…'), "{}", &shown[at..]);
    }

    #[test]
    fn token_len_stops_at_key_separator_and_comments() {
        assert_eq!(token_len("imge: nginx"), 4);
        assert_eq!(token_len("10.0.0.0/33 # vpc"), 11);
        assert_eq!(token_len("\"a b\" rest"), 5);
    }
}
