//! Attribute values: what a resource should look like (desired) and what AWS says it looks like
//! (observed). Both sides are normalized into this one shape before they are compared.

use std::collections::BTreeMap;
use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

/// Outputs of an applied resource, e.g. `id`, `arn`, `dns_name`.
pub type Outputs = BTreeMap<String, String>;

/// A normalized attribute map. Keys are sorted, so plans render in a stable order.
pub type Attrs = BTreeMap<String, Value>;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    /// An output of another node, known only once that node exists (`node.output`).
    Ref(String, String),
}

impl Value {
    pub fn str(s: impl Into<String>) -> Self {
        Value::Str(s.into())
    }

    pub fn reference(node: &str, output: &str) -> Self {
        Value::Ref(node.to_string(), output.to_string())
    }

    /// A reference to a node in another scope (a global record to a region's load balancer).
    pub fn reference_in(scope: &str, node: &str, output: &str) -> Self {
        Value::Ref(format!("{scope}/{node}"), output.to_string())
    }

    /// A list of strings, sorted: the order of sets (subnets, security groups) never matters.
    pub fn set<I, S>(items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Value>,
    {
        let mut v: Vec<Value> = items.into_iter().map(Into::into).collect();
        v.sort();
        v.dedup();
        Value::List(v)
    }

    pub fn opt_str(s: Option<impl Into<String>>) -> Self {
        s.map(|s| Value::Str(s.into())).unwrap_or(Value::Null)
    }

    /// Every node this value refers to.
    pub fn refs<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Value::Ref(node, _) => out.push(node),
            Value::List(items) => items.iter().for_each(|v| v.refs(out)),
            Value::Map(m) => m.values().for_each(|v| v.refs(out)),
            _ => {}
        }
    }

    /// Replace references with known outputs. `None` when an output is not known yet.
    pub fn resolve(&self, known: &dyn Fn(&str, &str) -> Option<String>) -> Option<Value> {
        Some(match self {
            Value::Ref(node, out) => Value::Str(known(node, out)?),
            Value::List(items) => {
                let mut v = items
                    .iter()
                    .map(|i| i.resolve(known))
                    .collect::<Option<Vec<_>>>()?;
                // Sets that held references sort by their resolved values.
                if items.iter().any(Value::has_ref) {
                    v.sort();
                }
                Value::List(v)
            }
            Value::Map(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| Some((k.clone(), v.resolve(known)?)))
                    .collect::<Option<BTreeMap<_, _>>>()?,
            ),
            other => other.clone(),
        })
    }

    pub fn has_ref(&self) -> bool {
        let mut v = Vec::new();
        self.refs(&mut v);
        !v.is_empty()
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_list(&self) -> &[Value] {
        match self {
            Value::List(l) => l,
            _ => &[],
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::Str(s.clone())
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i.into())
    }
}
impl From<u16> for Value {
    fn from(i: u16) -> Self {
        Value::Int(i.into())
    }
}
impl From<u32> for Value {
    fn from(i: u32) -> Self {
        Value::Int(i.into())
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Self {
        o.map(Into::into).unwrap_or(Value::Null)
    }
}

/// Builds a `Value::Map` from `key => value` pairs.
#[macro_export]
macro_rules! vmap {
    ($($k:expr => $v:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut m = ::std::collections::BTreeMap::<String, $crate::engine::Value>::new();
        $( m.insert($k.to_string(), $crate::engine::Value::from($v)); )*
        $crate::engine::Value::Map(m)
    }};
}

impl From<BTreeMap<String, Value>> for Value {
    fn from(m: BTreeMap<String, Value>) -> Self {
        Value::Map(m)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, " {k} = {v}")?;
                }
                f.write_str(if m.is_empty() { "}" } else { " }" })
            }
            Value::Ref(..) => f.write_str("(known after apply)"),
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_none(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Str(v) => s.serialize_str(v),
            Value::List(items) => items.serialize(s),
            Value::Map(m) => m.serialize(s),
            Value::Ref(node, out) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("unknown_after_apply", &format!("{node}.{out}"))?;
                m.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_sorts_and_dedups() {
        assert_eq!(
            Value::set(["b", "a", "b"]),
            Value::List(vec![Value::str("a"), Value::str("b")])
        );
    }

    #[test]
    fn resolve_replaces_refs_and_sorts_ref_sets() {
        let v = Value::List(vec![
            Value::reference("s1", "id"),
            Value::reference("s2", "id"),
        ]);
        let known = |n: &str, _: &str| Some(if n == "s1" { "z".into() } else { "a".into() });
        assert_eq!(v.resolve(&known), Some(Value::set(["a", "z"])));
        let unknown = |_: &str, _: &str| None;
        assert_eq!(v.resolve(&unknown), None);
    }

    #[test]
    fn display_is_terraform_like() {
        let v = vmap! { "a" => 1i64, "b" => "x" };
        assert_eq!(v.to_string(), "{ a = 1, b = \"x\" }");
        assert_eq!(
            Value::reference("vpc", "id").to_string(),
            "(known after apply)"
        );
    }
}
