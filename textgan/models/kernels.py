"""The project's compiled C kernels (``pooled_conv.c``, ``dropout_mask.c``, ``highway_gate.c``,
``factored_adam.c``, ``thin_linear.c``, ``sample_head.c``): built once per machine with the system's C compiler into
a cache directory and loaded with ctypes (no torch headers, no build step at install, well under a second to
build). Without a compiler, ``library()`` warns once and returns None, and callers keep torch's kernels
(``available()``)."""

from __future__ import annotations

import ctypes
import functools
import getpass
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

SOURCES = tuple(Path(__file__).with_name(name) for name in ("pooled_conv.c", "dropout_mask.c", "highway_gate.c",
                                                                  "factored_adam.c", "thin_linear.c",
                                                                  "sample_head.c"))
HEADERS = (Path(__file__).with_name("vectors.h"),)  # included by the sources: part of the build's cache key
# -ffp-contract=off: the compiler fuses no a * b + c itself; every multiply-add the kernels make is an explicit
# fmav / fmaw / fmas (vectors.h), so their numbers do not depend on its choices (GCC's Zen tuning left some 8-lane
# accumulation chains unfused where the 16-lane build fused them, and the two widths rounded apart)
FLAGS = ["-O3", "-std=gnu99", "-ffp-contract=off", "-shared", "-fPIC"]
NATIVE = ["-march=native"]  # the machine's vector units; the cache key includes the CPU's flags
# functions and loops aligned to cache lines (where the compiler takes the flags): without it, an unrelated edit
# elsewhere in the file once moved the input gradient's inner loop and made it ~30% slower
ALIGNED = ["-falign-functions=64", "-falign-loops=64"]


def _cache_dir() -> Path:
    """Where compiled kernels live: $TEXTGAN_CACHE, else $XDG_CACHE_HOME/textgan, else ~/.cache/textgan."""
    if os.environ.get("TEXTGAN_CACHE"):
        return Path(os.environ["TEXTGAN_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "textgan"


def _machine() -> str:
    """What a -march=native build depends on: architecture and, on Linux, the CPU's feature flags."""
    flags = ""
    try:
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()} {flags}"


def build(compiler: str, sources: Sequence[Path], target: Path, flags: Sequence[str],
          tries: Sequence[Sequence[str]]) -> bool:
    """Build `sources` into `target` with `flags` and the first of the `tries` (extra flags, most specific first)
    the compiler accepts; True on success. Written to a temporary name and renamed, so concurrent processes never
    load a half-written file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        built = Path(work) / target.name
        for extra in tries:
            try:
                done = subprocess.run([*shlex.split(compiler), *flags, *extra, "-o", str(built), *map(str, sources)],
                                      capture_output=True, timeout=120)
            except (OSError, subprocess.SubprocessError):
                return False
            if done.returncode == 0:
                os.replace(built, target)
                return True
    return False


def _compile(compiler: str, target: Path) -> bool:
    """Build SOURCES into the shared library `target`: native vector units first (aligned, then not), then
    without."""
    return build(compiler, SOURCES, target, FLAGS, (NATIVE + ALIGNED, NATIVE, []))


def compiler() -> str | None:
    """The C compiler the kernels are built with: $CC (a command line, options allowed), else cc, gcc or clang on
    the PATH; None without one."""
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


@functools.cache
def library() -> Any:
    """The compiled kernels (ctypes library), or None when no C compiler can build them (warned once)."""
    cc = compiler()
    parts = [*(source.read_text() for source in SOURCES + HEADERS), str(cc), *FLAGS, *ALIGNED, _machine()]
    key = hashlib.sha256(b"\0".join(s.encode() for s in parts))
    reason = "no C compiler found (set CC)"
    if cc is not None:
        reason = f"{cc} could not build {', '.join(source.name for source in SOURCES)}"
        for directory in (_cache_dir(), Path(tempfile.gettempdir()) / f"textgan-{_user()}"):
            target = directory / f"kernels-{key.hexdigest()[:16]}.so"
            try:
                if target.exists() or _compile(cc, target):
                    return _bind(ctypes.CDLL(str(target)))
            except OSError:
                continue
    warnings.warn(f"textgan: {reason}; the CNN discriminator's convolutions in training run torch's kernels "
                  f"(the same values and gradients, slower), its dropout is torch's (other masks, slower), and its "
                  f"highway's fused Adam step forms each block of the gradient first and its forward in training "
                  f"is torch's (the same to round-off, slower); generator.compiled_sampler draws with torch's sampler",
                  RuntimeWarning, stacklevel=2)
    return None


def _user() -> str:
    """The login name for a per-user temporary directory ("user" where the system has none)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "user"


def _bind(lib: Any) -> Any:
    pointer, size = ctypes.c_void_p, ctypes.c_int64
    lib.weight_grads.argtypes = [pointer, size, size, size, pointer, pointer, size, size] + [pointer] * 3 + [
        size, size, pointer, pointer]
    lib.input_grads.argtypes = [pointer, pointer, size, size, size, pointer, pointer, size, size] + [pointer] * 4
    lib.window_grads.argtypes = [pointer, size, size, size, pointer, pointer, size, size] + [pointer] * 8
    lib.pack_all.argtypes = [pointer, size, size, pointer, pointer, pointer]
    for fn in (lib.weight_grads, lib.input_grads, lib.window_grads, lib.pack_all):
        fn.restype = None
    lib.conv_max_all.argtypes = [pointer, size, size, size, pointer, pointer, size, pointer, pointer, pointer,
                                 pointer, size, pointer, pointer, size]
    lib.conv_max_all.restype = None
    lib.pack_lanes.argtypes = []
    lib.pack_lanes.restype = ctypes.c_int64
    lib.dropout_mask.argtypes = [pointer, size, size, pointer, ctypes.c_uint32, ctypes.c_float]
    lib.dropout_mask.restype = None
    lib.highway_gate.argtypes = [pointer, pointer, pointer, pointer, size, size]
    lib.highway_gate_backward.argtypes = [pointer, pointer, pointer, pointer, pointer, pointer, size, size]
    for fn in (lib.highway_gate, lib.highway_gate_backward):
        fn.restype = None
    single = ctypes.c_float
    lib.factored_adam.argtypes = [pointer] * 5 + [size] * 5 + [single] * 7
    lib.factored_adam.restype = None
    lib.thin_linear.argtypes = [pointer, size, pointer, size, size, size, size, pointer, pointer, size]
    lib.thin_linear.restype = None
    lib.thin_linear_input_grad.argtypes = [pointer, size, size, pointer, size, pointer, size, size]
    lib.thin_linear_input_grad.restype = None
    lib.sample_head.argtypes = [pointer, size, size, pointer, pointer, size] + [pointer] * 4
    lib.sample_head.restype = None
    for fn in (lib.factored_adam_span, lib.factored_adam_rows, lib.thin_linear_rows, lib.sample_head_group,
               lib.sample_head_ids):
        fn.argtypes = []
        fn.restype = ctypes.c_int64
    return lib


def library_for(*tensors: torch.Tensor) -> Any:
    """The compiled kernels when they can read these tensors (every one on the CPU at float32, and the kernels
    built), else None."""
    if any(t.device.type != "cpu" or t.dtype != torch.float32 for t in tensors):
        return None
    return library()


def wide() -> Any:
    """The compiled kernels when they are built for 16 lanes (AVX-512), else None: the highway's dense products and
    its fused Adam step (``thin_linear.c``, ``factored_adam.c``) run only from such a build. Built for 8 lanes (AVX2)
    their register tiles fit in 16 registers, and on a Zen 4 VM so built each ran slower than torch's way: the
    forward and input gradient than torch's products, the step than torch's blocks (0.72x alone, 0.90x in the D
    unit; docs/benchmarks.md)."""
    lib = library()
    return lib if lib is not None and lib.pack_lanes() == 16 else None


def available() -> bool:
    """Whether the compiled kernels can run here (compiled and loaded)."""
    return library() is not None


def in_parallel(count: int, run: Callable[[int, int], None]) -> None:
    """run(first, stop) over [0, count) cut into one consecutive range per torch thread. ctypes releases the GIL
    during each C call, so the ranges run in parallel; each kernel's result for an item does not depend on the
    cut, so any thread count gives the same numbers."""
    threads = min(torch.get_num_threads(), count)
    if threads <= 1:
        run(0, count)
        return
    cuts = [count * i // threads for i in range(threads + 1)]
    list(_executor(threads, os.getpid()).map(run, cuts[:-1], cuts[1:]))


@functools.cache
def _executor(threads: int, process: int) -> ThreadPoolExecutor:
    """A pool of `threads` threads for this process (keyed by its id: a forked child gets its own, the parent's
    threads do not exist there)."""
    return ThreadPoolExecutor(threads, thread_name_prefix="textgan-kernels")
