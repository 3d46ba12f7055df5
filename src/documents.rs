//! Sealed `{clear, secure}` documents through the store's handle, in
//! MongoDB or in memory.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;
use stream_mongo::mongodb::bson::{doc, Document};
use stream_mongo::{open_document, rewrap_document, seal_document};

use crate::error::Result;
use crate::memory;
use crate::store::{Backend, EventStore};

/// The documents of one collection whose secret values use Stream's
/// `{clear, secure}` shape ([`Secure`](crate::Secure)): only `secure` (an
/// envelope ciphertext bound to collection, document id and field path) is
/// stored. Made by [`EventStore::documents`]; encrypts with the store's
/// keyset as it is at each call, so a keyset rotation needs no new handle.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use serde::{Deserialize, Serialize};
/// use stream_store::{EventStore, Secure, chain::SealSecret, keyset::{Keyset, Template}};
///
/// #[derive(Serialize, Deserialize, PartialEq, Debug)]
/// struct CaKey { name: String, private_key: Secure<String> }
///
/// let store = EventStore::builder()
///     .keyset(Keyset::generate(Template::AES256_GCM_SIV))
///     .seal_secret(SealSecret::from_env_value("0123456789abcdef0123456789abcdef")?)
///     .in_memory()
///     .build()
///     .await?;
/// let keys = store.documents::<CaKey>("caKeys");
/// let key = CaKey { name: "root".into(), private_key: Secure::new("-----BEGIN...".into()) };
/// keys.put("root", &key).await?;
/// assert_eq!(keys.get("root").await?, Some(key));
/// # Ok::<(), stream_store::Error>(()) }).unwrap();
/// ```
pub struct Documents<T> {
    store: EventStore,
    collection: String,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Documents<T> {
    fn clone(&self) -> Self {
        Documents {
            store: self.store.clone(),
            collection: self.collection.clone(),
            _type: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Documents<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Documents")
            .field("collection", &self.collection)
            .finish_non_exhaustive()
    }
}

impl<T> Documents<T> {
    pub(crate) fn new(store: EventStore, collection: &str) -> Documents<T> {
        Documents {
            store,
            collection: collection.to_owned(),
            _type: PhantomData,
        }
    }

    /// The collection's name.
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// The database name the sealed fields are bound to
    /// ([`EventStore::document_database`]).
    fn database(&self) -> &str {
        self.store.document_database()
    }
}

impl<T: Serialize + DeserializeOwned> Documents<T> {
    /// Stores `value` as document `id` (replacing it): every `clear` is
    /// encrypted into `secure` and removed.
    ///
    /// # Errors
    /// Invalid input when `value` is not a document; a configuration error
    /// without a keyset.
    pub async fn put(&self, id: &str, value: &T) -> Result<()> {
        let envelope = self.store.envelope()?;
        let document = seal_document(&envelope, self.database(), &self.collection, id, value)?;
        match self.store.backend() {
            Backend::Memory(log) => memory::lock(log).put_document(&self.collection, id, document),
            Backend::Mongo(m) => {
                m.database
                    .collection::<Document>(&self.collection)
                    .replace_one(doc! {"_id": id}, document)
                    .upsert(true)
                    .await
                    .map_err(stream_mongo::Error::from)?;
            }
        }
        Ok(())
    }

    /// Reads document `id`, decrypting every `secure` into `clear`.
    ///
    /// # Errors
    /// An authentication error when a `secure` does not decrypt (moved from
    /// another document or field, modified, another keyset); an integrity
    /// error when the stored document does not have the shape of `T`.
    pub async fn get(&self, id: &str) -> Result<Option<T>> {
        let envelope = self.store.envelope()?;
        let stored = match self.store.backend() {
            Backend::Memory(log) => memory::lock(log).document(&self.collection, id),
            Backend::Mongo(m) => m
                .database
                .collection::<Document>(&self.collection)
                .find_one(doc! {"_id": id})
                .await
                .map_err(stream_mongo::Error::from)?,
        };
        match stored {
            Some(document) => Ok(Some(open_document(
                &envelope,
                self.database(),
                &self.collection,
                id,
                document,
            )?)),
            None => Ok(None),
        }
    }

    /// Re-wraps the data key of every secure field under the keyset's
    /// current primary (keyset rotation, step 3). Idempotent; returns how
    /// many documents changed.
    ///
    /// # Errors
    /// A keyset error when a field's key is not in the keyset: that
    /// document is left as it was, and the old key must stay.
    pub async fn rewrap_all(&self) -> Result<u64> {
        let envelope = self.store.envelope()?;
        match self.store.backend() {
            Backend::Mongo(m) => {
                let documents = stream_mongo::SealedDocuments::<T>::new(
                    &m.database,
                    &self.collection,
                    envelope,
                );
                Ok(documents.rewrap_all().await?)
            }
            Backend::Memory(log) => {
                let stored = memory::lock(log).documents_of(&self.collection);
                let mut changed = 0;
                for (id, original) in stored {
                    let mut document = original.clone();
                    // Written only if nobody stored the document meanwhile.
                    if rewrap_document(&envelope, &mut document)?
                        && memory::lock(log).replace_document(
                            &self.collection,
                            &id,
                            &original,
                            document,
                        )
                    {
                        changed += 1;
                    }
                }
                Ok(changed)
            }
        }
    }
}
