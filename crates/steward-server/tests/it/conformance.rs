//! Checks JSON values against the schemas of the OpenAPI document: the
//! subset of JSON Schema 2020-12 that the document uses (`$ref` to its
//! components, `type`, `enum`, `properties`, `required`,
//! `additionalProperties`, `items`, `oneOf`/`anyOf`/`allOf`, `pattern`,
//! lengths, bounds, `date-time`, and `contentSchema` for the JSON `data` of
//! event stream frames). Answers of the server are checked with it, so
//! that the document describes what the server sends.

use serde_json::Value;

/// Checks values against the schemas of `document`.
pub(crate) struct Checker<'a> {
    document: &'a Value,
}

impl<'a> Checker<'a> {
    pub(crate) fn new(document: &'a Value) -> Self {
        Checker { document }
    }

    /// The schema of the `status` answer of `method template` for
    /// `media_type`.
    pub(crate) fn response_schema(
        &self,
        method: &str,
        template: &str,
        status: u16,
        media_type: &str,
    ) -> &'a Value {
        let response = &self.document["paths"][template][method.to_lowercase()]["responses"]
            [status.to_string()];
        assert!(
            response.is_object(),
            "{method} {template} does not document {status}"
        );
        let schema = &response["content"][media_type]["schema"];
        assert!(
            schema.is_object(),
            "{method} {template} documents no {media_type} schema for {status}: {response}"
        );
        schema
    }

    /// The problems of `value` against `schema` (empty when it conforms).
    pub(crate) fn problems(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        self.check(schema, value, "$", &mut problems);
        problems
    }

    /// Panics with every problem of `value` against `schema`.
    pub(crate) fn assert_conforms(&self, what: &str, schema: &Value, value: &Value) {
        let problems = self.problems(schema, value);
        assert!(
            problems.is_empty(),
            "{what}: the answer contradicts its schema:\n{}\nanswer: {value}",
            problems.join("\n")
        );
    }

    fn resolve(&self, reference: &str) -> &'a Value {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {reference}"));
        let schema = &self.document["components"]["schemas"][name];
        assert!(schema.is_object(), "unresolvable reference {reference}");
        schema
    }

    fn check(&self, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
        if let Some(reference) = schema["$ref"].as_str() {
            self.check(self.resolve(reference), value, at, problems);
        }
        if let Some(types) = schema.get("type") {
            let types: Vec<&str> = match types {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                other => panic!("unexpected type {other}"),
            };
            if !types.iter().any(|name| is_type(value, name)) {
                problems.push(format!("{at}: {value} is not of type {types:?}"));
                return;
            }
        }
        if let Some(values) = schema["enum"].as_array()
            && !values.contains(value)
        {
            problems.push(format!("{at}: {value} is not one of {values:?}"));
        }
        if let Some(all) = schema["allOf"].as_array() {
            for part in all {
                self.check(part, value, at, problems);
            }
        }
        if let Some(any) = schema["anyOf"].as_array()
            && !any.iter().any(|part| self.problems(part, value).is_empty())
        {
            problems.push(format!("{at}: {value} matches none of anyOf"));
        }
        if let Some(one) = schema["oneOf"].as_array() {
            let matching = one
                .iter()
                .filter(|part| self.problems(part, value).is_empty())
                .count();
            if matching != 1 {
                problems.push(format!(
                    "{at}: {value} matches {matching} of oneOf, not exactly one"
                ));
            }
        }
        match value {
            Value::Object(object) => {
                for name in schema["required"].as_array().into_iter().flatten() {
                    let name = name.as_str().expect("required names are strings");
                    if !object.contains_key(name) {
                        problems.push(format!("{at}: `{name}` is missing"));
                    }
                }
                let properties = schema["properties"].as_object();
                for (name, field) in object {
                    let at = format!("{at}.{name}");
                    match properties.and_then(|properties| properties.get(name)) {
                        Some(property) => self.check(property, field, &at, problems),
                        None => match &schema["additionalProperties"] {
                            Value::Bool(false) => {
                                problems.push(format!("{at}: not a documented property"));
                            }
                            extra @ Value::Object(_) => self.check(extra, field, &at, problems),
                            _ => {}
                        },
                    }
                }
            }
            Value::Array(items) => {
                if schema["items"].is_object() {
                    for (index, item) in items.iter().enumerate() {
                        self.check(&schema["items"], item, &format!("{at}[{index}]"), problems);
                    }
                }
            }
            Value::String(text) => self.check_string(schema, text, at, problems),
            Value::Number(number) => {
                let number = number.as_f64().expect("numbers are finite");
                if let Some(minimum) = schema["minimum"].as_f64()
                    && number < minimum
                {
                    problems.push(format!("{at}: {number} is below {minimum}"));
                }
                if let Some(maximum) = schema["maximum"].as_f64()
                    && number > maximum
                {
                    problems.push(format!("{at}: {number} is above {maximum}"));
                }
            }
            Value::Null | Value::Bool(_) => {}
        }
    }

    fn check_string(&self, schema: &Value, text: &str, at: &str, problems: &mut Vec<String>) {
        let length = text.chars().count() as u64;
        if let Some(min) = schema["minLength"].as_u64()
            && length < min
        {
            problems.push(format!("{at}: `{text}` is shorter than {min}"));
        }
        if let Some(max) = schema["maxLength"].as_u64()
            && length > max
        {
            problems.push(format!("{at}: `{text}` is longer than {max}"));
        }
        if let Some(pattern) = schema["pattern"].as_str() {
            let regex = regex::Regex::new(pattern)
                .unwrap_or_else(|err| panic!("invalid pattern {pattern}: {err}"));
            if !regex.is_match(text) {
                problems.push(format!("{at}: `{text}` does not match {pattern}"));
            }
        }
        if schema["format"] == "date-time" && chrono::DateTime::parse_from_rfc3339(text).is_err() {
            problems.push(format!("{at}: `{text}` is not an RFC 3339 time"));
        }
        if let Some(content) = schema.get("contentSchema") {
            assert_eq!(schema["contentMediaType"], "application/json", "{at}");
            match serde_json::from_str::<Value>(text) {
                Ok(data) => self.check(content, &data, &format!("{at}(json)"), problems),
                Err(err) => problems.push(format!("{at}: not JSON: {err}")),
            }
        }
    }
}

fn is_type(value: &Value, name: &str) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64()
                || value.is_u64()
                || value.as_f64().is_some_and(|number| number.fract() == 0.0)
        }
        other => panic!("unknown type {other}"),
    }
}

/// The frames of a server-sent event stream, as the document describes
/// them: objects of their `event`, `id` and `data` fields (comments are
/// no frames). The `event` of a frame without one is `message`.
pub(crate) fn frames(stream: &str) -> Vec<Value> {
    let mut frames = Vec::new();
    for block in stream.split("\n\n") {
        let mut frame = serde_json::Map::new();
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines() {
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "data" => data.push(value),
                "event" | "id" => {
                    frame.insert(field.to_owned(), Value::String(value.to_owned()));
                }
                _ => {}
            }
        }
        if data.is_empty() {
            continue;
        }
        frame.insert("data".to_owned(), Value::String(data.join("\n")));
        frame
            .entry("event")
            .or_insert_with(|| Value::String("message".to_owned()));
        frames.push(Value::Object(frame));
    }
    frames
}
