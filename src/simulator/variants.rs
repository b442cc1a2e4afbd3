//! Contract variants, on request: every simulator's JSON answers rewritten into forms the
//! vendors' contracts allow and the simulators do not normally send, so that a test can see the
//! exporter read them as it reads the usual ones. Vendor-blind: a rewrite of JSON, applied to
//! every answer of a simulator while it is switched on.
//!
//! - An unknown field on the answer's object and on every record of its lists (contracts add
//!   fields; a client must ignore them). Only records get it, never the objects inside them,
//!   which may be dictionaries (UiPath's `Allowed`), where a key is data.
//! - Every whole number written as an integer (`5`, not `5.0`), as JSON allows for a float.
//! - Every member whose value is null left out: an optional field absent rather than null.
//!
//! Beside these, a test may install its own rewrite of every JSON answer ([`Rewrite`]): the
//! contract tests write null where a vendor's schema says a field is nullable, which only the
//! schema knows.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// The field a variant answer carries that no contract names.
pub const UNKNOWN_FIELD: &str = "simUnknownField";

/// A test's rewrite of a JSON answer, given the request's path.
pub type Rewrite = Arc<dyn Fn(&str, &mut Value) + Send + Sync>;

/// Whether a simulator sends its answers as contract variants, and a test's own rewrite.
#[derive(Default)]
pub struct Variants {
    on: AtomicBool,
    rewrite: Mutex<Option<Rewrite>>,
}

impl Variants {
    pub fn set(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
    }

    pub fn set_rewrite(&self, rewrite: Option<Rewrite>) {
        *crate::model::locks::lock(&self.rewrite) = rewrite;
    }

    fn on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    fn rewrite(&self) -> Option<Rewrite> {
        crate::model::locks::lock(&self.rewrite).clone()
    }
}

/// The middleware: a JSON answer, rewritten while variants are on.
pub(super) async fn rewrite(
    axum::extract::State(variants): axum::extract::State<Arc<Variants>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let rewrite = variants.rewrite();
    if !variants.on() && rewrite.is_none() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Ok(mut json) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, bytes.into());
    };
    if variants.on() {
        add_unknown_fields(&mut json);
        whole_numbers_as_integers(&mut json);
        nulls_left_out(&mut json);
    }
    if let Some(rewrite) = rewrite {
        rewrite(&path, &mut json);
    }
    let text = json.to_string();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, text.into())
}

fn unknown() -> Value {
    serde_json::json!({"nested": [null, 1.5, "x"], "flag": true})
}

fn add_to(object: &mut Map<String, Value>) {
    object.insert(UNKNOWN_FIELD.to_string(), unknown());
}

/// The answer's object and each object of its lists (or of the answer, when it is a list).
fn add_unknown_fields(json: &mut Value) {
    let records = |list: &mut Vec<Value>| {
        for record in list.iter_mut() {
            if let Value::Object(object) = record {
                add_to(object);
            }
        }
    };
    match json {
        Value::Array(list) => records(list),
        Value::Object(object) => {
            for value in object.values_mut() {
                if let Value::Array(list) = value {
                    records(list);
                }
            }
            add_to(object);
        }
        _ => {}
    }
}

fn whole_numbers_as_integers(json: &mut Value) {
    match json {
        Value::Number(number) => {
            let whole = number
                .as_f64()
                .filter(|f| number.is_f64() && f.fract() == 0.0 && f.abs() < 9e15);
            if let Some(whole) = whole {
                *json = Value::from(whole as i64);
            }
        }
        Value::Array(list) => list.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(object) => object.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

fn nulls_left_out(json: &mut Value) {
    match json {
        Value::Array(list) => list.iter_mut().for_each(nulls_left_out),
        Value::Object(object) => {
            object.retain(|_, value| !value.is_null());
            object.values_mut().for_each(nulls_left_out);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_get_an_unknown_field_whole_floats_become_integers_and_nulls_go() {
        let mut json =
            serde_json::json!({"data": [{"value": 5.0, "Allowed": {"Attended": 3}}], "total": 2.5});
        add_unknown_fields(&mut json);
        whole_numbers_as_integers(&mut json);
        nulls_left_out(&mut json);
        assert_eq!(json["data"][0]["value"].to_string(), "5");
        assert_eq!(json["total"].to_string(), "2.5");
        assert!(json[UNKNOWN_FIELD].is_object() && json["data"][0][UNKNOWN_FIELD].is_object());
        assert!(
            json["data"][0]["Allowed"].get(UNKNOWN_FIELD).is_none(),
            "a dictionary keeps its keys"
        );
    }
}
