//! Sealed documents: any serde type whose secret values use Stream's
//! `{clear, secure}` shape. Only `secure` is stored.

use std::marker::PhantomData;
use std::sync::Arc;

use mongodb::bson::spec::BinarySubtype;
use mongodb::bson::{doc, Binary, Bson, Document};
use mongodb::{Collection, Database};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use stream_keyset::Envelope;

use crate::error::{Error, Result};

/// A secret value in Stream's `{clear, secure}` shape. In memory `clear`
/// holds the value; in the database only `secure` (an envelope ciphertext
/// bound to collection, document id and field path) is stored.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Secure<T> {
    /// The value in clear (never stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear: Option<T>,
    /// The envelope ciphertext (filled when stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure: Option<Binary>,
}

impl<T> Secure<T> {
    /// A value to protect.
    pub fn new(value: T) -> Secure<T> {
        Secure {
            clear: Some(value),
            secure: None,
        }
    }
}

impl<T> std::fmt::Debug for Secure<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secure(<redacted>)")
    }
}

/// The associated data of a secure field.
fn field_aad(collection: &str, id: &str, path: &str) -> Vec<u8> {
    let mut aad = Vec::new();
    for part in ["stream.document", collection, id, path] {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

/// A typed repository of documents with `{clear, secure}` fields.
pub struct SealedDocuments<T> {
    collection: Collection<Document>,
    envelope: Arc<Envelope>,
    _type: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for SealedDocuments<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedDocuments")
            .field("collection", &self.collection.name())
            .finish_non_exhaustive()
    }
}

impl<T: Serialize + DeserializeOwned> SealedDocuments<T> {
    /// The repository of collection `name`.
    pub fn new(database: &Database, name: &str, envelope: Arc<Envelope>) -> SealedDocuments<T> {
        SealedDocuments {
            collection: database.collection(name),
            envelope,
            _type: PhantomData,
        }
    }

    /// Stores `value` as document `id` (replacing it): every `clear` is
    /// encrypted into `secure` and removed.
    pub async fn put(&self, id: &str, value: &T) -> Result<()> {
        let mut document =
            mongodb::bson::serialize_to_document(value).map_err(|e| self.bad(id, e.to_string()))?;
        document.remove("_id");
        seal_fields(&mut document, "", &|path, clear| {
            let bytes = mongodb::bson::serialize_to_vec(&doc! {"v": clear})
                .map_err(|e| self.bad(id, e.to_string()))?;
            let aad = field_aad(self.collection.name(), id, path);
            Ok(self.envelope.encrypt(&bytes, &aad)?)
        })?;
        document.insert("_id", id);
        self.collection
            .replace_one(doc! {"_id": id}, document)
            .upsert(true)
            .await?;
        Ok(())
    }

    /// Reads document `id`, decrypting every `secure` into `clear`.
    pub async fn get(&self, id: &str) -> Result<Option<T>> {
        let Some(mut document) = self.collection.find_one(doc! {"_id": id}).await? else {
            return Ok(None);
        };
        document.remove("_id");
        open_fields(&mut document, "", &|path, secure| {
            let aad = field_aad(self.collection.name(), id, path);
            let bytes = self.envelope.decrypt(secure, &aad)?;
            let wrapper =
                Document::from_reader(bytes.as_slice()).map_err(|e| self.bad(id, e.to_string()))?;
            wrapper
                .get("v")
                .cloned()
                .ok_or_else(|| self.bad(id, "empty secure value".into()))
        })?;
        let value = mongodb::bson::deserialize_from_document(document)
            .map_err(|e| self.bad(id, e.to_string()))?;
        Ok(Some(value))
    }

    /// Re-wraps the data key of every secure field under the keyset's
    /// current primary. Idempotent; returns how many documents changed.
    pub async fn rewrap_all(&self) -> Result<u64> {
        use futures_util::TryStreamExt;
        let mut cursor = self.collection.find(doc! {}).await?;
        let mut changed = 0;
        while let Some(mut document) = cursor.try_next().await? {
            let id = document.get("_id").cloned().unwrap_or(Bson::Null);
            let mut count = 0;
            rewrap_fields(&mut document, &mut |secure| {
                let (len, rest) = secure.split_first_chunk::<4>()?;
                let len = u32::from_be_bytes(*len) as usize;
                let wrapped = rest.get(..len)?;
                if self.envelope.is_wrapped_by_primary(wrapped) {
                    return None;
                }
                count += 1;
                self.envelope.rewrap(secure).ok()
            });
            if count > 0 {
                self.collection
                    .replace_one(doc! {"_id": id}, document)
                    .await?;
                changed += 1;
            }
        }
        Ok(changed)
    }

    fn bad(&self, id: &str, reason: String) -> Error {
        Error::Document {
            collection: self.collection.name().to_owned(),
            id: id.to_owned(),
            reason,
        }
    }
}

fn is_secure_shape(d: &Document) -> bool {
    !d.is_empty() && d.keys().all(|k| k == "clear" || k == "secure")
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn binary(bytes: Vec<u8>) -> Bson {
    Bson::Binary(Binary {
        subtype: BinarySubtype::Generic,
        bytes,
    })
}

type SealFn<'a> = dyn Fn(&str, &Bson) -> Result<Vec<u8>> + 'a;
type OpenFn<'a> = dyn Fn(&str, &[u8]) -> Result<Bson> + 'a;

fn seal_fields(d: &mut Document, path: &str, seal: &SealFn<'_>) -> Result<()> {
    for (key, value) in d.iter_mut() {
        seal_value(value, &child_path(path, key), seal)?;
    }
    Ok(())
}

fn seal_value(value: &mut Bson, path: &str, seal: &SealFn<'_>) -> Result<()> {
    match value {
        Bson::Document(d) if is_secure_shape(d) => {
            if let Some(clear) = d.remove("clear") {
                let ciphertext = seal(path, &clear)?;
                d.insert("secure", binary(ciphertext));
            }
            Ok(())
        }
        Bson::Document(d) => seal_fields(d, path, seal),
        Bson::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                seal_value(item, &child_path(path, &i.to_string()), seal)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn open_fields(d: &mut Document, path: &str, open: &OpenFn<'_>) -> Result<()> {
    for (key, value) in d.iter_mut() {
        open_value(value, &child_path(path, key), open)?;
    }
    Ok(())
}

fn open_value(value: &mut Bson, path: &str, open: &OpenFn<'_>) -> Result<()> {
    match value {
        Bson::Document(d) if is_secure_shape(d) => {
            if let Some(Bson::Binary(b)) = d.get("secure") {
                let clear = open(path, &b.bytes)?;
                d.insert("clear", clear);
            }
            Ok(())
        }
        Bson::Document(d) => open_fields(d, path, open),
        Bson::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                open_value(item, &child_path(path, &i.to_string()), open)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn rewrap_fields(d: &mut Document, rewrap: &mut dyn FnMut(&[u8]) -> Option<Vec<u8>>) {
    for (_, value) in d.iter_mut() {
        rewrap_value(value, rewrap);
    }
}

fn rewrap_value(value: &mut Bson, rewrap: &mut dyn FnMut(&[u8]) -> Option<Vec<u8>>) {
    match value {
        Bson::Document(d) if is_secure_shape(d) => {
            let new = match d.get("secure") {
                Some(Bson::Binary(b)) => rewrap(&b.bytes),
                _ => None,
            };
            if let Some(new) = new {
                d.insert("secure", binary(new));
            }
        }
        Bson::Document(d) => rewrap_fields(d, rewrap),
        Bson::Array(items) => items.iter_mut().for_each(|i| rewrap_value(i, rewrap)),
        _ => {}
    }
}
