//! Errors for people: spec problems with carets, conflicts with what to do about them.

use std::io::Write;

use miette::{GraphicalReportHandler, GraphicalTheme};

use super::Style;
use crate::engine::PlanError;
use crate::error::{chain, Error};
use crate::spec::SpecError;

pub fn report(e: &Error, st: Style) {
    let _ = std::io::stderr().write_all(format(e, st).as_bytes());
}

pub fn format(e: &Error, st: Style) -> String {
    match e {
        Error::Spec(spec) => spec_errors(spec, st),
        Error::Plan(PlanError::Conflicts { stack, conflicts }) => {
            let mut s = format!("{} {e}\n", st.red(&st.bold("error:")));
            for c in conflicts {
                s.push_str(&format!("  - {c}\n"));
            }
            s.push_str(&format!(
                "\nballast never adopts, changes or deletes a resource without the tag ballast:stack={stack}.\n\
                 Rename the stack, or remove or rename the existing resources, then plan again.\n"
            ));
            s
        }
        other => format!("{} {}\n", st.red(&st.bold("error:")), chain(other)),
    }
}

/// Every issue of a spec error, rendered with its source line and a caret.
pub fn spec_errors(e: &SpecError, st: Style) -> String {
    let mut theme = if st.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    // A caret under the offending text, as compilers do.
    theme.characters.underline = '^';
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    for issue in &e.issues {
        let _ = handler.render_report(&mut out, issue);
        out.push('\n');
    }
    out.push_str(&format!("{} {e}\n", st.red(&st.bold("error:"))));
    out
}
