"""Moving samples inside preallocated buffers from jitted code, without allocating.

Numba compiles ``row[i] = row[i + by]`` over one array into a scalar loop (the source and
destination overlap, so LLVM does not vectorize it), and a slice assignment between
overlapping views of one array allocates a temporary copy. :func:`move` is C's ``memmove``
on contiguous 1-D views instead: correct for overlapping views, several times faster.
"""
from __future__ import annotations

from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .vecmath import JIT


@intrinsic
def move(typingctx, dst, src, count):
    """Copy the first ``count`` elements of ``src`` to ``dst`` (``memmove``: the views may
    overlap). Both must be contiguous 1-D arrays of one type; callers guarantee ``count``
    fits both."""
    if not (isinstance(dst, types.Array) and dst.ndim == 1 and dst.layout == "C" and src == dst
            and isinstance(count, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        target = context.make_array(signature.args[0])(context, builder, args[0])
        source = context.make_array(signature.args[1])(context, builder, args[1])
        itemsize = context.get_abi_sizeof(context.get_data_type(signature.args[0].dtype))
        cgutils.raw_memmove(builder, target.data, source.data, args[2], itemsize)
        return context.get_dummy_value()

    return types.void(dst, src, count), codegen


@njit(**JIT)
def shift_rows(buf, by, start):
    """Shift every row of ``buf[:, start:]`` left by ``by`` samples, zero-filling the end
    (``buf`` C-contiguous, ``start + by <= buf.shape[1]``)."""
    n = buf.shape[-1]
    for ch in range(buf.shape[0]):
        row = buf[ch]
        move(row[start:], row[start + by:], n - by - start)
        row[n - by:] = 0.0
