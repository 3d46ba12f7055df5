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
///
/// Read back, a value must come decrypted: a `Secure` deserialized without
/// its `clear` (a sealed field removed, emptied or never decrypted) is an
/// error, never an empty value.
///
/// Stored, a value must have its `clear`: serializing a `Secure` without
/// one (`Secure::default()`, or a value whose `clear` was taken) is an
/// error, since what it would store (`{}` or a ciphertext copied from
/// elsewhere) is what reading refuses.
#[derive(Clone, Default)]
pub struct Secure<T> {
    /// The value in clear (never stored).
    pub clear: Option<T>,
    /// The envelope ciphertext (filled when stored).
    pub secure: Option<Binary>,
}

/// The serialization error of a `Secure` without its clear value, told
/// apart from other serialization errors by [`seal_document`].
const NO_CLEAR: &str = "a sealed value has no clear value to store (build it with Secure::new)";

impl<T: Serialize> Serialize for Secure<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let Some(clear) = &self.clear else {
            return Err(serde::ser::Error::custom(NO_CLEAR));
        };
        let mut st = s.serialize_struct("Secure", 1 + usize::from(self.secure.is_some()))?;
        st.serialize_field("clear", clear)?;
        if let Some(secure) = &self.secure {
            st.serialize_field("secure", secure)?;
        }
        st.end()
    }
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

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secure<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        // Only a map of `clear`, `secure` and `v` (the shape the reader
        // decrypts or refuses): a sequence or a map with another key would
        // pass a stored clear value through undecrypted.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Shape<T> {
            #[serde(default = "Option::default")]
            clear: Option<T>,
            #[serde(default)]
            secure: Option<Binary>,
            #[serde(default, rename = "v")]
            _version: Option<i64>,
        }
        struct Only<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Only<T> {
            type Value = Shape<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a sealed value {clear, secure}")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Shape<T>, A::Error> {
                Shape::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        let shape = d.deserialize_map(Only::<T>(PhantomData))?;
        match shape.clear {
            Some(clear) => Ok(Secure {
                clear: Some(clear),
                secure: shape.secure,
            }),
            None => Err(serde::de::Error::custom(
                "a sealed value has no clear value (removed, emptied or not decrypted)",
            )),
        }
    }
}

/// Two values are equal when their clear values are: the ciphertext (fresh
/// each time a value is stored) is not compared.
impl<T: PartialEq> PartialEq for Secure<T> {
    fn eq(&self, other: &Secure<T>) -> bool {
        self.clear == other.clear
    }
}

impl<T> std::fmt::Debug for Secure<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secure(<redacted>)")
    }
}

/// The format version of sealed document fields written now: version 2
/// binds the database (version 1, still read, did not).
pub const DOCUMENT_VERSION: i32 = 2;

/// The associated data of a secure field: (version 2) database,
/// collection, document id and the field's path, each length-prefixed; the
/// path as tagged segments (`k` a field name, `i` an array index) so that
/// `a.0`, `a["0"]` and `"a.0"` differ. Version 1 has no database.
fn field_aad(version: i32, database: &str, collection: &str, id: &str, path: &[u8]) -> Vec<u8> {
    let mut aad =
        Vec::with_capacity(40 + database.len() + collection.len() + id.len() + path.len());
    let mut part = |bytes: &[u8]| {
        aad.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        aad.extend_from_slice(bytes);
    };
    part(b"stream.document");
    if version >= 2 {
        part(&[2u8]);
        part(database.as_bytes());
    } else {
        part(&[1u8]);
    }
    part(collection.as_bytes());
    part(id.as_bytes());
    part(path);
    aad
}

/// A typed repository of documents with `{clear, secure}` fields.
pub struct SealedDocuments<T> {
    collection: Collection<Document>,
    envelope: Arc<Envelope>,
    /// The database name the fields are bound to, when not the
    /// collection's own.
    bound_to: Option<String>,
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
            bound_to: None,
            _type: PhantomData,
        }
    }

    /// Binds the fields to database name `database` instead of the
    /// collection's own: for a database restored under another name, the
    /// name it had when its fields were written (`docs/FORMAT.md` §11).
    #[must_use]
    pub fn bound_to(mut self, database: impl Into<String>) -> SealedDocuments<T> {
        self.bound_to = Some(database.into());
        self
    }

    /// The database name of the associated data.
    fn database(&self) -> String {
        self.bound_to
            .clone()
            .unwrap_or_else(|| self.collection.namespace().db)
    }

    /// Stores `value` as document `id` (replacing it): every `clear` is
    /// encrypted into `secure` and removed.
    pub async fn put(&self, id: &str, value: &T) -> Result<()> {
        let database = self.database();
        let document = seal_document(&self.envelope, &database, self.collection.name(), id, value)?;
        self.collection
            .replace_one(doc! {"_id": id}, document)
            .upsert(true)
            .await?;
        Ok(())
    }

    /// Reads document `id`, decrypting every `secure` into `clear`.
    pub async fn get(&self, id: &str) -> Result<Option<T>> {
        let Some(document) = self.collection.find_one(doc! {"_id": id}).await? else {
            return Ok(None);
        };
        let database = self.database();
        open_document(
            &self.envelope,
            &database,
            self.collection.name(),
            id,
            document,
        )
        .map(Some)
    }

    /// Re-wraps the data key of every secure field under the keyset's
    /// current primary. Idempotent; returns how many documents changed.
    pub async fn rewrap_all(&self) -> Result<u64> {
        use futures_util::TryStreamExt;
        let mut cursor = self.collection.find(doc! {}).await?;
        let mut changed = 0;
        while let Some(mut document) = cursor.try_next().await? {
            if rewrap_document(&self.envelope, &mut document)? {
                let id = document.get("_id").cloned().unwrap_or(Bson::Null);
                self.collection
                    .replace_one(doc! {"_id": id}, document)
                    .await?;
                changed += 1;
            }
        }
        Ok(changed)
    }
}

fn bad(collection: &str, id: &str, reason: &str) -> Error {
    Error::Document {
        collection: collection.to_owned(),
        id: id.to_owned(),
        reason: reason.to_owned(),
    }
}

/// The stored form of `value` as document `id` of `collection`: every
/// `clear` of a `{clear, secure}` field encrypted by `envelope` into
/// `secure` (bound to collection, id and field path) and removed.
///
/// # Errors
/// [`Error::Unserializable`] when `value` is not a document;
/// [`Error::NoClearValue`] when a `Secure` in it has no clear value; a keyset
/// error when encryption fails.
pub fn seal_document<T: Serialize>(
    envelope: &Envelope,
    database: &str,
    collection: &str,
    id: &str,
    value: &T,
) -> Result<Document> {
    let unserializable = || Error::Unserializable {
        collection: collection.to_owned(),
        id: id.to_owned(),
    };
    let mut document = mongodb::bson::serialize_to_document(value).map_err(|e| {
        // Only our own message is looked at; serde's others may quote
        // values, so they are not passed on.
        if e.to_string().contains(NO_CLEAR) {
            Error::NoClearValue {
                collection: collection.to_owned(),
                id: id.to_owned(),
            }
        } else {
            unserializable()
        }
    })?;
    document.remove("_id");
    seal_fields(&mut document, &[], &|path, clear| {
        let bytes =
            mongodb::bson::serialize_to_vec(&doc! {"v": clear}).map_err(|_| unserializable())?;
        let aad = field_aad(DOCUMENT_VERSION, database, collection, id, path);
        Ok(envelope.encrypt(&bytes, &aad)?)
    })?;
    document.insert("_id", id);
    Ok(document)
}

/// The value of stored document `id` of `collection`, every `secure`
/// decrypted into `clear`.
///
/// # Errors
/// [`Error::Document`] when the document does not have the shape of `T`
/// or a decrypted value is not BSON; a keyset error when a `secure` does
/// not decrypt (another place, another keyset, modified).
pub fn open_document<T: DeserializeOwned>(
    envelope: &Envelope,
    database: &str,
    collection: &str,
    id: &str,
    mut document: Document,
) -> Result<T> {
    document.remove("_id");
    let tampered = |field: &str, reason: &str| Error::Tampered {
        collection: collection.to_owned(),
        id: id.to_owned(),
        field: field.to_owned(),
        reason: reason.to_owned(),
    };
    open_fields(
        &mut document,
        &[],
        "",
        &tampered,
        &|version, path, secure| {
            let aad = field_aad(version, database, collection, id, path);
            let bytes = envelope.decrypt(secure, &aad)?;
            let wrapper = Document::from_reader(bytes.as_slice())
                .map_err(|_| bad(collection, id, "a decrypted value is not BSON"))?;
            wrapper
                .get("v")
                .cloned()
                .ok_or_else(|| bad(collection, id, "empty secure value"))
        },
    )?;
    // Serde's message may quote the value it rejected, which can be a
    // decrypted secret: say only that the shape is wrong.
    mongodb::bson::deserialize_from_document(document).map_err(|_| {
        bad(
            collection,
            id,
            "the stored document does not have the shape of the type",
        )
    })
}

/// Re-wraps the data key of every secure field of a stored document under
/// the keyset's current primary; returns whether anything changed.
///
/// # Errors
/// A keyset error when a field cannot be re-wrapped (its key is not in the
/// keyset): nothing of the document is changed then, and the old key must
/// stay in the keyset.
pub fn rewrap_document(envelope: &Envelope, document: &mut Document) -> Result<bool> {
    let mut copy = document.clone();
    let mut count = 0;
    let mut failure = None;
    rewrap_fields(&mut copy, &mut |secure| {
        let (len, rest) = secure.split_first_chunk::<4>()?;
        let len = u32::from_be_bytes(*len) as usize;
        let wrapped = rest.get(..len)?;
        if envelope.is_wrapped_by_primary(wrapped) {
            return None;
        }
        match envelope.rewrap(secure) {
            Ok(rewrapped) => {
                count += 1;
                Some(rewrapped)
            }
            Err(e) => {
                failure.get_or_insert(e);
                None
            }
        }
    });
    if let Some(e) = failure {
        return Err(e.into());
    }
    if count > 0 {
        *document = copy;
    }
    Ok(count > 0)
}

fn is_secure_shape(d: &Document) -> bool {
    !d.is_empty()
        && d.keys().any(|k| k == "clear" || k == "secure")
        && d.keys().all(|k| k == "clear" || k == "secure" || k == "v")
}

/// The path of a field: `path || 'k' || u32be(len) || name`.
fn field_path(path: &[u8], name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len() + 5 + name.len());
    out.extend_from_slice(path);
    out.push(b'k');
    out.extend_from_slice(&(name.len() as u32).to_be_bytes());
    out.extend_from_slice(name.as_bytes());
    out
}

/// The path of an array element: `path || 'i' || u64be(index)`.
fn index_path(path: &[u8], index: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len() + 9);
    out.extend_from_slice(path);
    out.push(b'i');
    out.extend_from_slice(&(index as u64).to_be_bytes());
    out
}

fn binary(bytes: Vec<u8>) -> Bson {
    Bson::Binary(Binary {
        subtype: BinarySubtype::Generic,
        bytes,
    })
}

type SealFn<'a> = dyn Fn(&[u8], &Bson) -> Result<Vec<u8>> + 'a;
type OpenFn<'a> = dyn Fn(i32, &[u8], &[u8]) -> Result<Bson> + 'a;
type TamperedFn<'a> = dyn Fn(&str, &str) -> Error + 'a;

fn seal_fields(d: &mut Document, path: &[u8], seal: &SealFn<'_>) -> Result<()> {
    for (key, value) in d.iter_mut() {
        seal_value(value, &field_path(path, key), seal)?;
    }
    Ok(())
}

fn seal_value(value: &mut Bson, path: &[u8], seal: &SealFn<'_>) -> Result<()> {
    match value {
        Bson::Document(d) if is_secure_shape(d) => {
            if let Some(clear) = d.remove("clear") {
                let ciphertext = seal(path, &clear)?;
                d.insert("secure", binary(ciphertext));
                d.insert("v", DOCUMENT_VERSION);
            }
            Ok(())
        }
        Bson::Document(d) => seal_fields(d, path, seal),
        Bson::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                seal_value(item, &index_path(path, i), seal)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn open_fields(
    d: &mut Document,
    path: &[u8],
    name: &str,
    tampered: &TamperedFn<'_>,
    open: &OpenFn<'_>,
) -> Result<()> {
    for (key, value) in d.iter_mut() {
        let field = if name.is_empty() {
            key.clone()
        } else {
            format!("{name}.{key}")
        };
        open_value(value, &field_path(path, key), &field, tampered, open)?;
    }
    Ok(())
}

/// The version of a stored secure field (`v`; absent: 1).
fn field_version(d: &Document) -> Option<i32> {
    match d.get("v") {
        None => Some(1),
        Some(Bson::Int32(v)) if (1..=DOCUMENT_VERSION).contains(v) => Some(*v),
        Some(Bson::Int64(v)) if (1..=i64::from(DOCUMENT_VERSION)).contains(v) => {
            i32::try_from(*v).ok()
        }
        Some(_) => None,
    }
}

fn open_value(
    value: &mut Bson,
    path: &[u8],
    name: &str,
    tampered: &TamperedFn<'_>,
    open: &OpenFn<'_>,
) -> Result<()> {
    match value {
        Bson::Document(d) if is_secure_shape(d) => {
            // Stored, a sealed field holds its ciphertext only: a value in
            // clear, a missing or null ciphertext is someone's write, never
            // a value to hand back.
            if d.contains_key("clear") {
                return Err(tampered(name, "a sealed field is stored in clear"));
            }
            let version = field_version(d)
                .ok_or_else(|| tampered(name, "unknown version of a sealed field"))?;
            let Some(Bson::Binary(b)) = d.get("secure") else {
                return Err(tampered(
                    name,
                    "the ciphertext of a sealed field is missing or not binary",
                ));
            };
            let clear = open(version, path, &b.bytes)?;
            d.insert("clear", clear);
            Ok(())
        }
        Bson::Document(d) => open_fields(d, path, name, tampered, open),
        Bson::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let field = format!("{name}.{i}");
                open_value(item, &index_path(path, i), &field, tampered, open)?;
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use stream_keyset::{Algorithm, Keyset, Template};

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Card {
        pan: Secure<String>,
    }

    fn envelope() -> Envelope {
        Keyset::generate(Template::AES256_GCM_SIV)
            .envelope(Algorithm::Aes256GcmSiv)
            .unwrap()
    }

    /// A `Secure` with its clear value is stored sealed and read back.
    #[test]
    fn a_secure_with_its_clear_value_round_trips() {
        let envelope = envelope();
        let card = Card {
            pan: Secure::new("4111".into()),
        };
        let stored = seal_document(&envelope, "db", "cards", "c1", &card).unwrap();
        let pan = stored.get_document("pan").unwrap();
        assert!(pan.get("clear").is_none());
        assert!(pan.get_binary_generic("secure").is_ok());
        let back: Card = open_document(&envelope, "db", "cards", "c1", stored).unwrap();
        assert_eq!(back, card);
    }

    /// Without its clear value (`Secure::default()`, or only a ciphertext
    /// taken from elsewhere) nothing is stored and the error says why.
    #[test]
    fn a_secure_without_its_clear_value_is_not_stored() {
        let envelope = envelope();
        let other = seal_document(
            &envelope,
            "db",
            "cards",
            "c2",
            &Card {
                pan: Secure::new("5500".into()),
            },
        )
        .unwrap();
        let copied = other
            .get_document("pan")
            .unwrap()
            .get_binary_generic("secure")
            .unwrap()
            .clone();
        for pan in [
            Secure::default(),
            Secure {
                clear: None,
                secure: Some(Binary {
                    subtype: BinarySubtype::Generic,
                    bytes: copied.clone(),
                }),
            },
        ] {
            let err = seal_document(&envelope, "db", "cards", "c1", &Card { pan }).unwrap_err();
            assert!(matches!(err, Error::NoClearValue { .. }), "{err:?}");
            assert!(err.to_string().contains("Secure::new"), "{err}");
        }
    }
}
