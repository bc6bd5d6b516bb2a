//! Borrowing the bytes of a Python value without copying: `bytes` and `bytearray` directly,
//! anything else that exports a contiguous buffer (memoryview, array, numpy) through the buffer
//! protocol, `str` as UTF-8.

use std::ffi::{c_char, c_int, c_void};

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString};

/// `Py_buffer`. Its layout is the same in every CPython since 3.3; it joined the stable ABI in
/// 3.11, and the wheel (abi3, CPython ≥ 3.9) uses it on 3.9 and 3.10 too.
#[repr(C)]
struct RawBuffer {
    buf: *mut c_void,
    obj: *mut ffi::PyObject,
    len: isize,
    itemsize: isize,
    readonly: c_int,
    ndim: c_int,
    format: *mut c_char,
    shape: *mut isize,
    strides: *mut isize,
    suboffsets: *mut isize,
    internal: *mut c_void,
}

unsafe extern "C" {
    // Exported by every CPython 3.x; part of the stable ABI since 3.11.
    fn PyObject_GetBuffer(obj: *mut ffi::PyObject, view: *mut RawBuffer, flags: c_int) -> c_int;
    fn PyBuffer_Release(view: *mut RawBuffer);
}

/// PyBUF_SIMPLE: a contiguous buffer of bytes, read-only is fine.
const PYBUF_SIMPLE: c_int = 0;

/// A held buffer export; released on drop (always with the GIL held: these live only inside a
/// method call).
pub(crate) struct Exported(Box<RawBuffer>);

impl Drop for Exported {
    fn drop(&mut self) {
        // SAFETY: the view was filled by a successful PyObject_GetBuffer and is released once;
        // the GIL is held (Exported never leaves the call that created it).
        unsafe { PyBuffer_Release(&mut *self.0) }
    }
}

/// Bytes borrowed from a Python object for the duration of one call that holds the GIL.
pub(crate) enum Borrowed<'py> {
    Bytes(Bound<'py, PyBytes>),
    ByteArray(Bound<'py, PyByteArray>),
    Text(String),
    Buffer(Exported),
}

impl Borrowed<'_> {
    /// The bytes. Valid while `self` lives and no Python code runs (the callers run none).
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Borrowed::Bytes(b) => b.as_bytes(),
            // SAFETY: the GIL is held and no Python code runs while the slice is used, so the
            // bytearray cannot be resized or freed underneath it.
            Borrowed::ByteArray(b) => unsafe { b.as_bytes() },
            Borrowed::Text(s) => s.as_bytes(),
            Borrowed::Buffer(Exported(view)) => {
                if view.len <= 0 || view.buf.is_null() {
                    &[]
                } else {
                    // SAFETY: a PyBUF_SIMPLE export is `len` contiguous bytes at `buf`, valid
                    // until PyBuffer_Release (on drop of `self`).
                    unsafe { std::slice::from_raw_parts(view.buf as *const u8, view.len as usize) }
                }
            }
        }
    }
}

/// Borrows the bytes of `obj` (bytes, bytearray, str, or any contiguous buffer).
pub(crate) fn borrow<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Borrowed<'py>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Borrowed::Bytes(b.clone()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Borrowed::Text(s.to_cow()?.into_owned()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Borrowed::ByteArray(b.clone()));
    }
    let mut view = Box::new(RawBuffer {
        buf: std::ptr::null_mut(),
        obj: std::ptr::null_mut(),
        len: 0,
        itemsize: 0,
        readonly: 0,
        ndim: 0,
        format: std::ptr::null_mut(),
        shape: std::ptr::null_mut(),
        strides: std::ptr::null_mut(),
        suboffsets: std::ptr::null_mut(),
        internal: std::ptr::null_mut(),
    });
    // SAFETY: `obj` is a live object (we hold a reference and the GIL); `view` is writable
    // storage of the right layout.
    let rc = unsafe { PyObject_GetBuffer(obj.as_ptr(), &mut *view, PYBUF_SIMPLE) };
    if rc != 0 {
        let py = obj.py();
        let cause = PyErr::take(py);
        let err = PyTypeError::new_err(format!(
            "expected bytes, str or a contiguous buffer, got {}",
            obj.get_type()
                .name()
                .map_or_else(|_| "?".to_string(), |n| n.to_string())
        ));
        if let Some(cause) = cause {
            err.set_cause(py, Some(cause));
        }
        return Err(err);
    }
    Ok(Borrowed::Buffer(Exported(view)))
}

/// [`borrow`] for an optional value (`None` stays absent).
pub(crate) fn borrow_opt<'py>(obj: Option<&Bound<'py, PyAny>>) -> PyResult<Option<Borrowed<'py>>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => borrow(o).map(Some),
    }
}
