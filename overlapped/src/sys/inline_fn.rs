//! A `FnOnce(A)` kept without a heap allocation when it is small.
//!
//! A completion routine is a closure kept until its operation completes;
//! most capture a handle or two (an echo server's captures one `Socket`).
//! Boxing each one costs a `malloc` and a `free` per operation; this keeps a
//! closure of up to [`WORDS`] machine words in place and boxes only larger
//! (or over-aligned) ones.

use std::marker::PhantomData;
use std::mem::{align_of, size_of, ManuallyDrop, MaybeUninit};

/// Machine words a closure may take to be kept in place.
const WORDS: usize = 4;

/// A `FnOnce(A)`, called at most once; dropped uncalled if never called.
/// Neither `Send` nor `Sync` (the closure need be neither).
pub(crate) struct InlineFn<A> {
    data: MaybeUninit<[usize; WORDS]>,
    /// Moves the closure out of `data` and calls it.
    call: unsafe fn(*mut u8, A),
    /// Drops the closure in `data` uncalled.
    drop: unsafe fn(*mut u8),
    /// Owns a closure that may be neither `Send` nor `Sync`.
    _owns: PhantomData<Box<dyn FnOnce(A)>>,
}

impl<A> InlineFn<A> {
    /// Keeps `f`: in place if it fits, else boxed (the box fits).
    pub(crate) fn new<F: FnOnce(A) + 'static>(f: F) -> InlineFn<A> {
        if fits::<F>() {
            InlineFn::in_place(f)
        } else {
            let boxed = Box::new(f);
            InlineFn::in_place(move |a: A| boxed(a))
        }
    }

    /// Keeps `f` in place; `f` fits (panics otherwise, before anything is written).
    fn in_place<F: FnOnce(A) + 'static>(f: F) -> InlineFn<A> {
        assert!(fits::<F>());
        let mut data = MaybeUninit::<[usize; WORDS]>::uninit();
        // SAFETY: `F` fits in `data` and needs no more alignment than it
        // (asserted above); `data` is ours and uninitialised, so the write
        // overwrites nothing. From here `data` holds a live `F`, read out
        // exactly once by `call_in_place` or dropped by `drop_in_place`.
        unsafe { data.as_mut_ptr().cast::<F>().write(f) };
        InlineFn {
            data,
            call: call_in_place::<F, A>,
            drop: drop_in_place::<F>,
            _owns: PhantomData,
        }
    }

    /// Calls the closure (consuming it).
    pub(crate) fn call(self, a: A) {
        let mut this = ManuallyDrop::new(self);
        let call = this.call;
        // SAFETY: `data` holds the live closure `call` was made for (see
        // `new`); `ManuallyDrop` keeps our `Drop` from dropping it again
        // after `call` moved it out.
        unsafe { call(this.data.as_mut_ptr().cast(), a) }
    }
}

impl<A> Drop for InlineFn<A> {
    fn drop(&mut self) {
        // SAFETY: not called (`call` forgets `self`), so `data` still holds
        // the live closure `drop` was made for.
        unsafe { (self.drop)(self.data.as_mut_ptr().cast()) }
    }
}

/// Whether an `F` can be kept in place.
const fn fits<F>() -> bool {
    size_of::<F>() <= size_of::<[usize; WORDS]>() && align_of::<F>() <= align_of::<usize>()
}

/// # Safety
/// `p` points at a live, suitably aligned `F`, which is moved out (the
/// caller must not use or drop it again).
unsafe fn call_in_place<F: FnOnce(A), A>(p: *mut u8, a: A) {
    // SAFETY: as the function's contract says.
    let f = unsafe { p.cast::<F>().read() };
    f(a)
}

/// # Safety
/// `p` points at a live, suitably aligned `F`, dropped here (the caller
/// must not use or drop it again).
unsafe fn drop_in_place<F>(p: *mut u8) {
    // SAFETY: as the function's contract says.
    unsafe { p.cast::<F>().drop_in_place() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    #[test]
    fn small_and_large_closures_run_once_and_drop_what_they_hold() {
        let hits = Rc::new(Cell::new(0));
        let (h, small) = (hits.clone(), Rc::new(()));
        let s = small.clone();
        let f = InlineFn::new(move |n: u32| {
            let _keep = &s;
            h.set(h.get() + n)
        });
        f.call(2);
        assert_eq!(hits.get(), 2);
        assert_eq!(Rc::strong_count(&small), 1, "the closure's capture dropped");
        let (h, big) = (hits.clone(), [7u64; 16]);
        let f = InlineFn::new(move |n: u32| h.set(h.get() + n + big[15] as u32));
        f.call(1);
        assert_eq!(hits.get(), 10);
        let held = Rc::new(());
        let (h2, big) = (held.clone(), [0u8; 100]);
        drop(InlineFn::new(move |_: u32| drop((h2, big))));
        let h3 = held.clone();
        drop(InlineFn::new(move |_: u32| drop(h3)));
        assert_eq!(Rc::strong_count(&held), 1, "uncalled closures dropped");
    }
}
