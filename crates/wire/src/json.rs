//! Borrowing JSON building blocks shared by every format.
//!
//! serde's own `Cow<str>` always allocates unless it is a direct, `#[serde(borrow)]` field, so
//! optional and nested strings would copy on every line. [`Str`] borrows from the input whenever
//! the JSON string has no escapes and allocates only when it must. [`Id`] accepts the decimal
//! string ids of X v2 as well as the bare integers of older captures (above 2^53, so never
//! through `f64`).

use crate::ParseErrorKind;
use serde::de::{Deserialize, Deserializer, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// A JSON string, borrowed from the line when it can be.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Str<'a>(pub Cow<'a, str>);

impl Str<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

struct StrVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for StrVisitor<'a> {
    type Value = Str<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Str<'a>, E> {
        Ok(Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Str<'a>, E> {
        Ok(Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Str<'a>, E> {
        Ok(Str(Cow::Owned(v)))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor(PhantomData))
    }
}

/// A platform id: a JSON string, or a JSON integer kept exact (ids exceed 2^53).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Id<'a>(pub Cow<'a, str>);

impl Id<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

struct IdVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for IdVisitor<'a> {
    type Value = Id<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an id (string or integer)")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Id<'a>, E> {
        Ok(Id(Cow::Borrowed(v)))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Id<'a>, E> {
        Ok(Id(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Id<'a>, E> {
        Ok(Id(Cow::Owned(v)))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Id<'a>, E> {
        Ok(Id(Cow::Owned(v.to_string())))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Id<'a>, E> {
        Ok(Id(Cow::Owned(v.to_string())))
    }

    fn visit_f64<E: serde::de::Error>(self, _v: f64) -> Result<Id<'a>, E> {
        Err(E::custom(
            "an id as a floating-point number (precision lost); expected a string or integer",
        ))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Id<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IdVisitor(PhantomData))
    }
}

/// A number that some servers send as a string (`"followers_count": "12"`); `None` otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Count(pub Option<u64>);

struct CountVisitor;

impl Visitor<'_> for CountVisitor {
    type Value = Count;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a count")
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Count, E> {
        Ok(Count(Some(v)))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Count, E> {
        Ok(Count(u64::try_from(v).ok()))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Count, E> {
        if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 1.0e18 {
            Ok(Count(Some(v as u64)))
        } else {
            Ok(Count(None))
        }
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Count, E> {
        Ok(Count(v.trim().parse().ok()))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Count, E> {
        Ok(Count(None))
    }

    fn visit_bool<E: serde::de::Error>(self, _v: bool) -> Result<Count, E> {
        Err(E::custom("a count as a boolean"))
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CountVisitor)
    }
}

/// The items of an optional JSON list, empty when the list is absent or `null`.
pub(crate) fn items<T>(list: &Option<Vec<T>>) -> &[T] {
    list.as_deref().unwrap_or(&[])
}

/// Parses one JSON document into a typed, borrowing structure, classifying the failure:
/// broken JSON is [`ParseErrorKind::NotJson`], well-formed JSON of the wrong shape is
/// [`ParseErrorKind::UnknownShape`].
pub(crate) fn parse<'a, T: Deserialize<'a>>(s: &'a str) -> Result<T, ParseErrorKind> {
    serde_json::from_str(s).map_err(classify)
}

/// Maps a serde_json error onto the error kinds callers count separately.
pub(crate) fn classify(e: serde_json::Error) -> ParseErrorKind {
    match e.classify() {
        serde_json::error::Category::Data => ParseErrorKind::UnknownShape(e.to_string()),
        _ => ParseErrorKind::NotJson(e.to_string()),
    }
}

/// An owned copy of an optional string, dropping empty ones (platforms send `""` for "none").
pub(crate) fn opt_string(s: &Option<Str<'_>>) -> Option<String> {
    s.as_ref()
        .map(|s| s.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_borrows_unescaped_and_owns_escaped() {
        let s: Str<'_> = serde_json::from_str(r#""plain""#).unwrap();
        assert!(matches!(s.0, Cow::Borrowed("plain")));
        let s: Str<'_> = serde_json::from_str(r#""a\nb""#).unwrap();
        assert!(matches!(s.0, Cow::Owned(_)));
        assert_eq!(s.as_str(), "a\nb");
    }

    #[test]
    fn ids_above_2_pow_53_stay_exact() {
        let id: Id<'_> = serde_json::from_str("1377649934414049282").unwrap();
        assert_eq!(id.as_str(), "1377649934414049282");
        let id: Id<'_> = serde_json::from_str(r#""1377649934414049282""#).unwrap();
        assert_eq!(id.as_str(), "1377649934414049282");
        assert!(serde_json::from_str::<Id<'_>>("1.5e18").is_err());
    }

    #[test]
    fn counts_accept_strings_and_null() {
        let c: Count = serde_json::from_str(r#""12""#).unwrap();
        assert_eq!(c.0, Some(12));
        let c: Count = serde_json::from_str("null").unwrap();
        assert_eq!(c.0, None);
        let c: Count = serde_json::from_str("-3").unwrap();
        assert_eq!(c.0, None);
    }
}
