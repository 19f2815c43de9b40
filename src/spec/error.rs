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

/// Collects issues against one source text.
pub struct Issues {
    src: NamedSource<Arc<String>>,
    text: Arc<String>,
    pub list: Vec<Issue>,
}

impl Issues {
    pub fn new(file: &str, text: Arc<String>) -> Self {
        Issues {
            src: NamedSource::new(file, text.clone()),
            text,
            list: Vec::new(),
        }
    }

    pub fn push(
        &mut self,
        at: &Location,
        message: impl Into<String>,
        label: impl Into<String>,
        help: Option<String>,
    ) {
        let span = span_at(&self.text, at);
        self.list.push(Issue {
            message: message.into(),
            span,
            label: label.into(),
            help,
            src: self.src.clone(),
        });
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

/// Byte span of the YAML token at `loc` (1-based line and column).
pub fn span_at(text: &str, loc: &Location) -> SourceSpan {
    if loc.line() == 0 {
        return SourceSpan::new(0.into(), 0);
    }
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i + 1 == loc.line() as usize {
            let col = (loc.column() as usize).saturating_sub(1);
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
    fn token_len_stops_at_key_separator_and_comments() {
        assert_eq!(token_len("imge: nginx"), 4);
        assert_eq!(token_len("10.0.0.0/33 # vpc"), 11);
        assert_eq!(token_len("\"a b\" rest"), 5);
    }
}
