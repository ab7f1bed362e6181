// Keeps a few freed CPython arenas for reuse instead of returning each to the kernel.
//
// Every greenlet that runs Python frames gets its own 16 KiB data-stack chunk from CPython's
// arena allocator (mmap) and gives it back when it finishes (munmap): one mmap/munmap pair per
// request greenlet or puff.spawn, and each munmap shoots down TLB entries on every core the
// process runs on (the IO threads too). Cached blocks are reused by size, up to a bound.
#pragma once

namespace puff::python {

// Before the interpreter starts; wraps the default arena allocator (idempotent).
void install_arena_cache();

}  // namespace puff::python
