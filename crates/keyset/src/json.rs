//! Tink's JSON keyset format (`JsonKeysetReader` / `JsonKeysetWriter`):
//! camelCase field names, enum names as strings, bytes as standard base64,
//! key ids as numbers (Java writes ids of 2^31 and above as negative numbers;
//! both forms are read, the unsigned form is written).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroize;

use crate::error::{Error, Result};
use crate::proto;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonKeyset {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    primary_key_id: Option<i64>,
    #[serde(default)]
    key: Vec<JsonKey>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_data: Option<JsonKeyData>,
    #[serde(default)]
    status: Option<Value>,
    #[serde(default)]
    key_id: Option<i64>,
    #[serde(default)]
    output_prefix_type: Option<Value>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonKeyData {
    #[serde(default)]
    type_url: String,
    #[serde(default)]
    value: SecretText,
    #[serde(default)]
    key_material_type: Option<Value>,
}

/// The base64 text of a key's material: wiped when dropped, also when
/// `serde` drops it because a later field of the document is malformed.
/// (`serde_json` copies a string through its own scratch buffer only when
/// it holds escape sequences, which no Tink writer puts in base64.)
#[derive(Default, Serialize, Deserialize)]
#[serde(transparent)]
struct SecretText(String);

impl Drop for SecretText {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonEncryptedKeyset {
    encrypted_keyset: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keyset_info: Option<JsonKeysetInfo>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonKeysetInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    primary_key_id: Option<i64>,
    #[serde(default)]
    key_info: Vec<JsonKeyInfo>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonKeyInfo {
    #[serde(default)]
    type_url: String,
    #[serde(default)]
    status: Option<Value>,
    #[serde(default)]
    key_id: Option<i64>,
    #[serde(default)]
    output_prefix_type: Option<Value>,
}

/// One protobuf enum: its JSON field name and its value names by number.
struct EnumDef {
    field: &'static str,
    names: &'static [&'static str],
    expected: &'static str,
}

const STATUS: EnumDef = EnumDef {
    field: "status",
    names: &["UNKNOWN_STATUS", "ENABLED", "DISABLED", "DESTROYED"],
    expected: "ENABLED, DISABLED, DESTROYED",
};
const PREFIX: EnumDef = EnumDef {
    field: "outputPrefixType",
    names: &["UNKNOWN_PREFIX", "TINK", "LEGACY", "RAW", "CRUNCHY"],
    expected: "TINK, LEGACY, RAW, CRUNCHY",
};
const MATERIAL: EnumDef = EnumDef {
    field: "keyMaterialType",
    names: &[
        "UNKNOWN_KEYMATERIAL",
        "SYMMETRIC",
        "ASYMMETRIC_PRIVATE",
        "ASYMMETRIC_PUBLIC",
        "REMOTE",
    ],
    expected: "SYMMETRIC, ASYMMETRIC_PRIVATE, ASYMMETRIC_PUBLIC, REMOTE",
};

impl EnumDef {
    fn read(&self, value: Option<&Value>) -> Result<i32> {
        let unknown = |value: String| Error::UnknownEnum {
            field: self.field,
            value,
            expected: self.expected,
        };
        match value {
            None | Some(Value::Null) => Ok(0),
            Some(Value::String(name)) => self
                .names
                .iter()
                .position(|n| n == name)
                .and_then(|i| i32::try_from(i).ok())
                .ok_or_else(|| unknown(quote_name(name))),
            // protobuf's JSON mapping also accepts the number; keep values
            // this crate does not know so that they survive a write.
            Some(Value::Number(n)) => n
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| unknown(n.to_string())),
            // Never echo a JSON array or object: it may hold anything.
            Some(Value::Array(_)) => Err(unknown("a JSON array".to_owned())),
            Some(Value::Object(_)) => Err(unknown("a JSON object".to_owned())),
            Some(Value::Bool(b)) => Err(unknown(b.to_string())),
        }
    }

    fn write(&self, value: i32) -> Value {
        usize::try_from(value)
            .ok()
            .and_then(|i| self.names.get(i))
            .map_or_else(|| Value::from(value), |name| Value::from(*name))
    }
}

fn read_key_id(id: Option<i64>) -> Result<u32> {
    match id {
        None => Ok(0),
        Some(id) if id < 0 => i32::try_from(id)
            .map(|id| id as u32) // Java's signed form of the same 32 bits
            .map_err(|_| Error::KeyIdOutOfRange(id)),
        Some(id) => u32::try_from(id).map_err(|_| Error::KeyIdOutOfRange(id)),
    }
}

fn decode_b64(field: &'static str, text: &str) -> Result<Vec<u8>> {
    // Decoded into a zeroizing buffer, sized once before decoding: a value
    // that fails half-way leaves no key bytes behind.
    let mut out = zeroize::Zeroizing::new(Vec::new());
    STANDARD
        .decode_vec(text, &mut out)
        .map_err(|_| Error::Base64 { field })?;
    Ok(std::mem::take(&mut *out))
}

/// An unknown enum name, quoted back only if it looks like one (a typo
/// such as `ENABLD`): a long or non-identifier string may be misplaced key
/// material and is described by its length only.
fn quote_name(name: &str) -> String {
    if name.len() <= 20 && name.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_') {
        name.to_owned()
    } else {
        format!("a string of {} characters", name.chars().count())
    }
}

fn json_error(e: serde_json::Error) -> Error {
    use serde_json::error::Category;
    match e.classify() {
        // Syntax and end-of-input messages say what was expected and where;
        // they never quote the input.
        Category::Syntax | Category::Eof | Category::Io => Error::Json(e.to_string()),
        // Data messages quote the offending value (`invalid type: string
        // "..."`), which may be key material (a double-encoded `keyData`):
        // keep only the messages that name a field of the format, else the
        // position.
        Category::Data => {
            let message = e.to_string();
            if message.starts_with("missing field") || message.starts_with("duplicate field") {
                Error::Json(message)
            } else {
                Error::Json(format!(
                    "a value has the wrong type or is out of range at line {} column {} \
                     (value not shown: it may be secret)",
                    e.line(),
                    e.column()
                ))
            }
        }
    }
}

/// Parses a cleartext JSON keyset into its protobuf form (no validation).
pub(crate) fn keyset_from_json(text: &str) -> Result<proto::Keyset> {
    // Both forms wipe their key material when dropped, on every path.
    let parsed: JsonKeyset = serde_json::from_str(text).map_err(json_error)?;
    let mut keyset = proto::Keyset::default();
    fill_keyset(&parsed, &mut keyset)?;
    Ok(keyset)
}

/// Converts `parsed` into `keyset`. Decoded material goes straight into
/// `keyset` (reserved once), which wipes it if a later key fails.
fn fill_keyset(parsed: &JsonKeyset, keyset: &mut proto::Keyset) -> Result<()> {
    keyset.primary_key_id = read_key_id(parsed.primary_key_id)?;
    keyset.key.reserve_exact(parsed.key.len());
    for key in &parsed.key {
        let status = STATUS.read(key.status.as_ref())?;
        let key_id = read_key_id(key.key_id)?;
        let output_prefix_type = PREFIX.read(key.output_prefix_type.as_ref())?;
        let key_data = match &key.key_data {
            None => None,
            Some(data) => {
                let key_material_type = MATERIAL.read(data.key_material_type.as_ref())?;
                Some(proto::KeyData {
                    type_url: data.type_url.clone(),
                    value: decode_b64("keyData.value", &data.value.0)?,
                    key_material_type,
                })
            }
        };
        keyset.key.push(proto::Key {
            key_data,
            status,
            key_id,
            output_prefix_type,
        });
    }
    Ok(())
}

/// Writes a keyset's protobuf form as Tink's JSON (2-space indentation, as
/// Tink's writers produce).
pub(crate) fn keyset_to_json(keyset: &proto::Keyset) -> String {
    let json = JsonKeyset {
        primary_key_id: Some(i64::from(keyset.primary_key_id)),
        key: keyset
            .key
            .iter()
            .map(|key| JsonKey {
                key_data: key.key_data.as_ref().map(|data| JsonKeyData {
                    type_url: data.type_url.clone(),
                    value: SecretText(STANDARD.encode(&data.value)),
                    key_material_type: Some(MATERIAL.write(data.key_material_type)),
                }),
                status: Some(STATUS.write(key.status)),
                key_id: Some(i64::from(key.key_id)),
                output_prefix_type: Some(PREFIX.write(key.output_prefix_type)),
            })
            .collect(),
    };
    to_pretty(&json)
}

/// `value` as pretty JSON, written into a buffer of the exact length
/// allocated once: a growing buffer would leave copies of the key material
/// in the memory it frees. (Measured in a first pass that writes nothing.)
fn to_pretty<T: Serialize>(value: &T) -> String {
    /// Counts the bytes written to it.
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // Serializing these plain structs (strings, numbers, vectors) cannot
    // fail: there is no map with non-string keys, and neither writer
    // fails. serde_json writes UTF-8 only.
    let mut count = Count(0);
    if serde_json::to_writer_pretty(&mut count, value).is_err() {
        return String::new();
    }
    let mut out = Vec::with_capacity(count.0);
    if serde_json::to_writer_pretty(&mut out, value).is_err() {
        out.zeroize();
        return String::new();
    }
    String::from_utf8(out).unwrap_or_else(|e| {
        e.into_bytes().zeroize();
        String::new()
    })
}

/// Parses Tink's JSON encrypted keyset: the ciphertext and, if present, the
/// clear metadata.
pub(crate) fn encrypted_from_json(text: &str) -> Result<proto::EncryptedKeyset> {
    let parsed: JsonEncryptedKeyset = serde_json::from_str(text).map_err(json_error)?;
    let keyset_info = match parsed.keyset_info {
        None => None,
        Some(info) => Some(proto::KeysetInfo {
            primary_key_id: read_key_id(info.primary_key_id)?,
            key_info: info
                .key_info
                .iter()
                .map(|k| {
                    Ok(proto::KeyInfo {
                        type_url: k.type_url.clone(),
                        status: STATUS.read(k.status.as_ref())?,
                        key_id: read_key_id(k.key_id)?,
                        output_prefix_type: PREFIX.read(k.output_prefix_type.as_ref())?,
                    })
                })
                .collect::<Result<_>>()?,
        }),
    };
    Ok(proto::EncryptedKeyset {
        encrypted_keyset: decode_b64("encryptedKeyset", &parsed.encrypted_keyset)?,
        keyset_info,
    })
}

/// Writes an encrypted keyset as Tink's JSON.
pub(crate) fn encrypted_to_json(encrypted: &proto::EncryptedKeyset) -> String {
    let json = JsonEncryptedKeyset {
        encrypted_keyset: STANDARD.encode(&encrypted.encrypted_keyset),
        keyset_info: encrypted.keyset_info.as_ref().map(|info| JsonKeysetInfo {
            primary_key_id: Some(i64::from(info.primary_key_id)),
            key_info: info
                .key_info
                .iter()
                .map(|k| JsonKeyInfo {
                    type_url: k.type_url.clone(),
                    status: Some(STATUS.write(k.status)),
                    key_id: Some(i64::from(k.key_id)),
                    output_prefix_type: Some(PREFIX.write(k.output_prefix_type)),
                })
                .collect(),
        }),
    };
    to_pretty(&json)
}

/// Does this text look like JSON rather than a binary protobuf?
pub(crate) fn looks_like_json(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{')
}

/// Whether `bytes` are printable UTF-8 text (whitespace allowed, no other
/// control character): never a binary keyset.
pub(crate) fn is_text(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|t| {
        t.chars()
            .all(|c| !c.is_control() || c.is_ascii_whitespace())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn keyset(keys: u32) -> proto::Keyset {
        proto::Keyset {
            primary_key_id: 1,
            key: (1..=keys)
                .map(|id| proto::Key {
                    key_data: Some(proto::KeyData {
                        type_url: crate::keyset::AES_GCM_SIV_TYPE_URL.into(),
                        value: vec![u8::try_from(id % 256).unwrap(); 34],
                        key_material_type: proto::key_material::SYMMETRIC,
                    }),
                    status: proto::key_status::ENABLED,
                    key_id: id,
                    output_prefix_type: proto::output_prefix::TINK,
                })
                .collect(),
        }
    }

    /// The JSON form of key material is written into one buffer of the
    /// exact length: no growth, so no unwiped copy in freed memory.
    #[test]
    fn json_written_in_one_exact_allocation() {
        for keys in [1, 5, 40] {
            let text = keyset_to_json(&keyset(keys));
            assert_eq!(text.capacity(), text.len(), "{keys} keys");
            assert_eq!(keyset_from_json(&text).unwrap(), keyset(keys));
        }
    }

    /// A document that fails after a key was decoded is refused as a whole
    /// (the decoded keys are dropped, and wiped, with the partial keyset).
    #[test]
    fn later_error_refuses_the_whole_keyset() {
        let mut text = keyset_to_json(&keyset(2));
        let last = text.rfind("\"ENABLED\"").unwrap();
        text.replace_range(last..last + 9, "\"ENABLD\"");
        let err = keyset_from_json(&text).unwrap_err();
        assert!(err.to_string().contains("ENABLD"), "{err}");
    }
}
