//! Text helpers every layer uses for messages (a leaf: it imports nothing of the crate).

/// An error and its causes on one line: "a: b: c".
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// At most `max` characters of `s`, then how many more there were: `abc…(12 more characters)`.
pub fn shorten(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let head: String = s.chars().take(max).collect();
    format!("{head}…({} more characters)", n - max)
}
