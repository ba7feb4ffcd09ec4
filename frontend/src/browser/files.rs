//! Files picked by the person and files received, as browser objects: reading a file by
//! slices (never whole), collecting received bytes into Blobs, and the object URL that lets
//! the person save one.
//!
//! Received bytes never pile up in one growing JS array: [`BlobSink`] keeps at most
//! [`FLUSH_BYTES`] of chunks before turning them into a Blob, which the browser keeps outside
//! the JS heap (on disk when large), and merges Blobs so their list stays short.

use js_sys::{Array, ArrayBuffer, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, BlobPropertyBag, File, FileList, Url};

/// Received chunks held before they become a Blob.
const FLUSH_BYTES: u32 = 1024 * 1024;

/// Blobs held before they are merged into one.
const MERGE_PARTS: u32 = 64;

/// The files of a `<input type="file">`'s list.
pub fn files_of(list: &FileList) -> Vec<File> {
    (0..list.length()).filter_map(|i| list.item(i)).collect()
}

/// Bytes `start..end` of `file`, read by the browser without reading the rest.
pub async fn read_slice(file: &File, start: u64, end: u64) -> Result<Vec<u8>, JsValue> {
    let slice = file.slice_with_f64_and_f64(start as f64, end as f64)?;
    let buffer = JsFuture::from(slice.array_buffer()).await?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// The bytes of a received chunk after its header, as a view (no copy) and copied for hashing.
pub fn chunk_payload(chunk: &ArrayBuffer, header: usize) -> (Uint8Array, Vec<u8>) {
    let view = Uint8Array::new_with_byte_offset(chunk, header as u32);
    let bytes = view.to_vec();
    (view, bytes)
}

/// The first `N` bytes of a chunk (`None` if shorter), and its length.
pub fn chunk_header<const N: usize>(chunk: &ArrayBuffer) -> (Option<[u8; N]>, usize) {
    let len = chunk.byte_length() as usize;
    if len < N {
        return (None, len);
    }
    let mut header = [0; N];
    Uint8Array::new_with_byte_offset_and_length(chunk, 0, N as u32).copy_to(&mut header);
    (Some(header), len)
}

/// A received file being assembled from chunks into Blobs.
pub struct BlobSink {
    /// Chunks since the last flush.
    pending: Array,
    pending_bytes: u32,
    /// Blobs so far, in order.
    parts: Array,
}

impl Default for BlobSink {
    fn default() -> Self {
        Self {
            pending: Array::new(),
            pending_bytes: 0,
            parts: Array::new(),
        }
    }
}

impl BlobSink {
    /// Appends `chunk`.
    pub fn push(&mut self, chunk: &Uint8Array) -> Result<(), JsValue> {
        self.pending.push(chunk);
        self.pending_bytes += chunk.length();
        if self.pending_bytes >= FLUSH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), JsValue> {
        if self.pending.length() > 0 {
            let blob = Blob::new_with_u8_array_sequence(&self.pending)?;
            self.parts.push(&blob);
            self.pending = Array::new();
            self.pending_bytes = 0;
        }
        if self.parts.length() >= MERGE_PARTS {
            let merged = Blob::new_with_blob_sequence(&self.parts)?;
            self.parts = Array::of1(&merged);
        }
        Ok(())
    }

    /// The whole file, to be saved.
    pub fn finish(mut self) -> Result<ObjectUrl, JsValue> {
        self.flush()?;
        let options = BlobPropertyBag::new();
        options.set_type("application/octet-stream");
        let blob = Blob::new_with_blob_sequence_and_options(&self.parts, &options)?;
        Ok(ObjectUrl(Url::create_object_url_with_blob(&blob)?))
    }
}

/// An object URL for a received file; revoked when dropped (the page is left), which lets the
/// browser free the file.
#[derive(Debug)]
pub struct ObjectUrl(String);

impl ObjectUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Drop for ObjectUrl {
    fn drop(&mut self) {
        // Failing to revoke only keeps memory until the page closes.
        let _ = Url::revoke_object_url(&self.0);
    }
}

/// The `File` of an `<input type="file">` change event's target, if any.
pub fn picked_files(target: Option<web_sys::EventTarget>) -> Vec<File> {
    target
        .and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok())
        .map(|input| {
            let files = input
                .files()
                .map(|list| files_of(&list))
                .unwrap_or_default();
            // Cleared so that picking the same file again fires `change` again.
            input.set_value("");
            files
        })
        .unwrap_or_default()
}
