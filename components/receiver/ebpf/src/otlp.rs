//! Small builders for the OTLP types the receiver emits.

use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::procinfo::ProcessInfo;

pub fn attribute(key: &str, value: impl Into<AttributeValue>) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(value.into().0),
        }),
        ..Default::default()
    }
}

pub struct AttributeValue(any_value::Value);

impl From<String> for AttributeValue {
    fn from(v: String) -> Self {
        AttributeValue(any_value::Value::StringValue(v))
    }
}
impl From<&str> for AttributeValue {
    fn from(v: &str) -> Self {
        AttributeValue(any_value::Value::StringValue(v.to_string()))
    }
}
impl From<i64> for AttributeValue {
    fn from(v: i64) -> Self {
        AttributeValue(any_value::Value::IntValue(v))
    }
}
impl From<bool> for AttributeValue {
    fn from(v: bool) -> Self {
        AttributeValue(any_value::Value::BoolValue(v))
    }
}
impl From<Vec<u8>> for AttributeValue {
    fn from(v: Vec<u8>) -> Self {
        AttributeValue(any_value::Value::BytesValue(v))
    }
}

pub fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "ferrotel/receiver/ebpf".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        ..Default::default()
    }
}

pub fn resource(attributes: Vec<KeyValue>) -> Resource {
    Resource {
        attributes,
        ..Default::default()
    }
}

/// A process as a resource: semantic-convention process attributes, its container, the host.
pub fn process_resource(process: &ProcessInfo, host: &[KeyValue]) -> Resource {
    let mut attributes = host.to_vec();
    attributes.push(attribute("process.pid", i64::from(process.pid)));
    if !process.executable_name.is_empty() {
        attributes.push(attribute(
            "process.executable.name",
            process.executable_name.as_str(),
        ));
    }
    if !process.executable_path.is_empty() {
        attributes.push(attribute(
            "process.executable.path",
            process.executable_path.as_str(),
        ));
    }
    if !process.command_line.is_empty() {
        attributes.push(attribute(
            "process.command_line",
            process.command_line.as_str(),
        ));
    }
    if let Some(id) = &process.container_id {
        attributes.push(attribute("container.id", id.as_str()));
    }
    resource(attributes)
}

/// `host.name`, for every resource the receiver emits.
pub fn host_attributes() -> Vec<KeyValue> {
    let mut name = [0u8; 256];
    // SAFETY: gethostname writes at most name.len() bytes into the buffer it is given.
    let ok = unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len()) } == 0;
    let host = if ok {
        crate::events::c_str(&name)
    } else {
        String::new()
    };
    if host.is_empty() {
        Vec::new()
    } else {
        vec![attribute("host.name", host)]
    }
}
