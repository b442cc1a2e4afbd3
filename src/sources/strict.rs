//! Vendor JSON read in the shapes the vendors document, where serde's defaults are lenient:
//! serde reads a struct from an array by position (`"prepaidUnits": [1, 2]` as enabled 1,
//! warning 2), and Rust reads `"NaN"`, `"inf"` and `"1e999"` as numbers. Both are a broken or
//! hostile answer, refused as `invalid_response`, never a number served.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

/// A struct from a JSON object only (`#[serde(deserialize_with = "strict::object")]`).
pub fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    d.deserialize_map(ObjectVisitor(PhantomData))
}

/// An optional struct: null or absent is none, an object is read, anything else is refused.
pub fn optional_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    d.deserialize_option(OptionalObject(PhantomData))
}

/// A list of structs, each from a JSON object.
pub fn objects<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    d.deserialize_seq(Objects(PhantomData))
}

/// A list of structs where the contract makes the list nullable (Microsoft's generated
/// clients read null anywhere): null is an empty list; absent stays an error unless the field
/// has a default.
pub fn nullable_objects<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    d.deserialize_option(NullableObjects(PhantomData))
}

/// A number, or a number written as a string, that is finite: `"NaN"`, `"inf"` and
/// `"1e999"` are none.
pub fn finite_number(value: &Value) -> Option<f64> {
    let number = value
        .as_f64()
        .or_else(|| value.as_str()?.trim().parse().ok())?;
    number.is_finite().then_some(number)
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map))
    }
}

struct OptionalObject<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for OptionalObject<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        object(d).map(Some)
    }
}

struct Objects<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for Objects<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element_seed(ObjectSeed(PhantomData))? {
            items.push(item);
        }
        Ok(items)
    }
}

struct NullableObjects<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for NullableObjects<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of objects or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
        objects(d)
    }
}

struct ObjectSeed<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for ObjectSeed<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        object(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Units {
        enabled: Option<f64>,
        warning: Option<f64>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Sku {
        #[serde(default, deserialize_with = "optional_object")]
        prepaid: Option<Units>,
        #[serde(default, deserialize_with = "objects")]
        parts: Vec<Units>,
    }

    #[test]
    fn a_struct_is_read_from_an_object_never_from_an_array_by_position() {
        let read = |json: &str| serde_json::from_str::<Sku>(json);
        let sku = read(r#"{"prepaid": {"enabled": 1, "warning": 2}, "parts": [{"enabled": 3}]}"#);
        let units = |enabled, warning| Units { enabled, warning };
        assert_eq!(
            sku.unwrap(),
            Sku {
                prepaid: Some(units(Some(1.0), Some(2.0))),
                parts: vec![units(Some(3.0), None)],
            }
        );
        assert_eq!(read(r#"{"prepaid": null}"#).unwrap().prepaid, None);
        assert_eq!(read("{}").unwrap().prepaid, None);
        let refused = read(r#"{"prepaid": [1, 2]}"#).unwrap_err().to_string();
        assert!(refused.contains("expected an object"), "{refused}");
        assert!(read(r#"{"parts": [[3, 4]]}"#).is_err());
    }

    #[test]
    fn a_number_in_a_string_is_finite_or_none() {
        let number = |json: &str| finite_number(&serde_json::from_str(json).unwrap());
        assert_eq!(number("12"), Some(12.0));
        assert_eq!(number(r#""12.5""#), Some(12.5));
        for refused in [
            r#""NaN""#,
            r#""inf""#,
            r#""-infinity""#,
            r#""1e999""#,
            r#""x""#,
            "null",
        ] {
            assert_eq!(number(refused), None, "{refused}");
        }
    }
}
