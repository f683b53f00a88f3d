"""What the machine can do for training: number formats, torch.compile, and peak FLOPs for MFU.

- ``choose_precision(device, requested="auto")``: bfloat16 autocast on GPUs that compute in it
  (compute capability 8.0 and up: A100, RTX 30xx/40xx, H100, L4) and on CPUs with native
  bfloat16 (AVX512-BF16 or AMX), float16 with a gradient scaler on older GPUs (Colab's T4, V100),
  float32 on other CPUs and on Apple's MPS.
- ``choose_compile(device, requested=None)``: ``torch.compile`` on CUDA under Linux, where
  Triton exists; skipped on Windows and on MPS; on CPUs when asked (the cpu profile asks: it
  fuses the many small operations of a small model);
  ``compiled_evaluation(device)``: whether evaluation runs compiled too (on CUDA).
- ``peak_flops(device)`` and ``flops_per_token(config)`` give MFU (model FLOPs utilisation):
  the share of the GPU's peak that the training step really uses.

Nothing here runs at import time; every query happens when a function is called.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .model import count_parameters

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


@dataclass(frozen=True)
class Precision:
    """How a step computes: ``name`` (bf16, fp16 or fp32), on ``device_type``, and why."""

    name: str
    device_type: str
    reason: str = ""

    @property
    def dtype(self) -> torch.dtype:
        return _DTYPES[self.name]

    @property
    def needs_scaler(self) -> bool:
        """float16 needs loss scaling: its small gradients would round to zero otherwise."""
        return self.name == "fp16"

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The context a forward runs in: ``torch.autocast`` for bf16/fp16, nothing for fp32."""
        if self.name == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler | None:
        """A gradient scaler for float16, else None."""
        if not self.needs_scaler:
            return None
        return torch.amp.GradScaler(self.device_type)


def cuda_capability() -> tuple[int, int] | None:
    """The first GPU's compute capability, e.g. (7, 5) for a T4, or None without CUDA."""
    if not torch.cuda.is_available():
        return None
    return tuple(torch.cuda.get_device_capability())  # type: ignore[return-value]


def choose_precision(device: str | torch.device, requested: str = "auto") -> Precision:
    """The number format to train in on ``device``; ``requested`` overrides "auto" where it can work."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision={requested!r}: use one of {', '.join(PRECISIONS)}")
    kind = torch.device(device).type
    if kind == "cuda":
        capability = cuda_capability()
        bf16_ok = capability is not None and capability >= (8, 0)
        if requested == "auto":
            if bf16_ok:
                return Precision("bf16", kind, f"GPU compute capability {capability}: bfloat16 autocast")
            return Precision("fp16", kind, f"GPU compute capability {capability} has no fast bfloat16: "
                                           "float16 autocast with a gradient scaler")
        if requested == "bf16" and not bf16_ok:
            raise ValueError(
                f"precision='bf16' on a GPU of compute capability {capability}: it has no bfloat16 "
                "arithmetic (it needs 8.0, e.g. an A100 or RTX 30xx); use precision='fp16' or 'auto'"
            )
        return Precision(requested, kind, "asked for")
    if kind == "mps":
        if requested in ("auto", "fp32"):
            return Precision("fp32", kind, "Apple MPS: float32 (autocast there is young and no faster "
                                           "for models this small)")
        if requested == "fp16":
            raise ValueError("precision='fp16' on MPS needs a gradient scaler PyTorch does not offer "
                             "everywhere; use precision='fp32' (or 'bf16' on macOS 14+)")
        return Precision(requested, kind, "asked for")
    # CPU (and anything else)
    if requested == "auto" and kind == "cpu" and cpu_has_native_bf16():
        return Precision("bf16", kind, "CPU with native bfloat16 (AVX512-BF16 or AMX): bfloat16 autocast")
    if requested in ("auto", "fp32"):
        return Precision("fp32", kind, "CPU: float32 (this CPU has no native bfloat16 arithmetic)")
    if requested == "fp16":
        raise ValueError("precision='fp16' on a CPU: float16 training needs a GPU; use 'fp32' (or 'bf16' "
                         "on CPUs with AVX512-BF16 or AMX)")
    return Precision("bf16", kind, "asked for")


def cpu_has_native_bf16() -> bool:
    """True on x86 CPUs whose vector units compute in bfloat16 (AVX512-BF16 or AMX). Elsewhere bf16 would be emulated, slower than float32."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private, so looked up with care
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def compile_available() -> tuple[bool, str]:
    """Whether ``torch.compile`` can work here at all, and why not."""
    if sys.platform.startswith("win"):
        return False, "torch.compile is not supported on Windows"
    if not hasattr(torch, "compile"):
        return False, f"torch {torch.__version__} has no torch.compile"
    return True, ""


def compiled_evaluation(device: str | torch.device) -> bool:
    """Whether a compiled model also evaluates compiled: on CUDA, where the eval-mode graph pays for
    its compile; on a CPU compiling it too costs more than it saves."""
    return torch.device(device).type == "cuda"


def choose_compile(device: str | torch.device, requested: bool | None = None) -> tuple[bool, str]:
    """Whether to ``torch.compile`` the model, and why. None means "where it helps"."""
    kind = torch.device(device).type
    ok, why_not = compile_available()
    if kind == "mps":
        ok, why_not = False, "torch.compile is not used on MPS (its backend is experimental)"
    if kind == "cuda" and ok:
        try:
            import triton  # noqa: F401
        except ImportError:
            ok, why_not = False, "Triton is not installed, so torch.compile cannot generate GPU kernels"
    if requested is False:
        return False, "compile=False"
    if requested is True:
        if not ok:
            log.warning("compile=True but %s; training without it", why_not)
            return False, why_not
        return True, "compile=True"
    if not ok:
        return False, why_not
    if kind == "cuda":
        return True, "CUDA: torch.compile fuses the small operations (a one-off compile of about a minute)"
    return False, ("CPU: off unless asked (compile=True, as the cpu profile does): it pays for a long run "
                   "of a small model, not for a short one")


def compile_model(model: torch.nn.Module, shape: tuple[int, int], precision: Precision, *,
                  eval_too: bool = False) -> tuple[torch.nn.Module, float, str | None]:
    """``torch.compile`` ``model`` and compile its training step now, on a dummy batch of
    ``shape`` (and its eval graph with ``eval_too``), so that time is not counted as training.
    Returns the model to train, the seconds it took, and why it failed (then the model is the
    eager one: no C++ compiler, an unsupported platform). The random state is left as it was,
    so a resumed run draws the same dropout masks as one that never stopped."""
    device = next(model.parameters()).device
    compiled = torch.compile(model)
    rng, device_rng = torch.get_rng_state(), device_rng_state(device)
    t0 = time.perf_counter()
    failure = None
    try:
        # two tensors, not one passed twice: the graph is specialised on whether idx is targets
        x, y = (torch.zeros(*shape, dtype=torch.long, device=device) for _ in range(2))
        with precision.autocast():
            _, loss = compiled(x, y)
        loss.backward()
        if eval_too:  # evaluation's graph (eval mode, no gradients) is another one
            compiled.eval()
            with torch.no_grad(), precision.autocast():
                compiled(x, y)
            compiled.train()
    except Exception as err:  # noqa: BLE001 - any compiler failure means: run eagerly
        log.warning("torch.compile failed (%s: %s); training without it", type(err).__name__, str(err)[:200])
        failure, compiled = f"torch.compile failed: {type(err).__name__}", model
    finally:
        model.zero_grad(set_to_none=True)
        torch.set_rng_state(rng)
        set_device_rng_state(device, device_rng)
    synchronize(device)()
    seconds = time.perf_counter() - t0
    if failure is None:
        log.info("compiled the model in %.1f s", seconds)
    return compiled, seconds, failure


# --------------------------------------------------------------------------- MFU

# Dense peak FLOP/s of the tensor cores in 16-bit (bf16, or fp16 where there is no bf16), per GPU.
PEAK_FLOPS: dict[str, float] = {
    "H200": 989e12,
    "H100": 989e12,
    "A100": 312e12,
    "A10G": 125e12,
    "A10": 125e12,
    "L40S": 362e12,
    "L40": 181e12,
    "L4": 121e12,
    "RTX 4090": 165e12,
    "RTX 3090": 71e12,
    "V100": 125e12,
    "T4": 65e12,
}


def peak_flops(device: str | torch.device, name: str | None = None) -> float | None:
    """The GPU's peak 16-bit FLOP/s (``MINIGPT_PEAK_TFLOPS`` overrides), or None when unknown or not a GPU."""
    if os.environ.get("MINIGPT_PEAK_TFLOPS"):
        return float(os.environ["MINIGPT_PEAK_TFLOPS"]) * 1e12
    if name is None:
        if torch.device(device).type != "cuda" or not torch.cuda.is_available():
            return None
        name = torch.cuda.get_device_name(torch.device(device))
    for key, flops in PEAK_FLOPS.items():  # the table lists longer names first (A100 before A10)
        if key in name:
            return flops
    return None


def flops_per_token(config: Any, context_length: int | None = None) -> float:
    """Training FLOPs per token: 6 per weight (2 forward, 4 backward) plus the attention scores.

    The weights counted are those of every matrix product: the blocks and the output head (tied
    or not); the embedding tables are lookups and are left out.
    """

    parts = count_parameters(config)
    # the head's vocab x width product, whether tied or not; the embedding tables are lookups
    n = parts["transformer blocks"] + parts["final norm"] + config.vocab_size * config.n_embd
    T = context_length or config.context_length
    return 6.0 * n + 12.0 * config.n_layer * config.n_embd * T


def setup_backends(device: str | torch.device, deterministic: bool = False) -> None:
    """Fast float32 matrix products on GPUs (TF32), or bit-for-bit repeatable kernels when asked."""
    if torch.device(device).type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = not deterministic
        torch.backends.cudnn.allow_tf32 = not deterministic
    if deterministic:
        # cuBLAS needs a fixed workspace to be deterministic; set before its first use.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def describe(device: str | torch.device) -> str:
    """One line: the device and what it is (GPU name, or CPU and thread count)."""
    kind = torch.device(device).type
    if kind == "cuda" and torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(torch.device(device))})"
    if kind == "mps":
        return "mps (Apple GPU)"
    n = torch.get_num_threads()
    return f"cpu ({platform.machine()}, {n} thread{'' if n == 1 else 's'})"


def device_rng_state(device: str | torch.device) -> torch.Tensor | None:
    """The random generator state of a GPU (what dropout draws from there); None on a CPU."""
    d = torch.device(device)
    if d.type == "cuda":
        return torch.cuda.get_rng_state(d)
    if d.type == "mps":
        return torch.mps.get_rng_state()
    return None


def set_device_rng_state(device: str | torch.device, state: torch.Tensor | None) -> None:
    """Put back a state from ``device_rng_state`` (nothing to do on a CPU or for None)."""
    d = torch.device(device)
    if state is None:
        return
    if d.type == "cuda":
        torch.cuda.set_rng_state(state, d)
    elif d.type == "mps":
        torch.mps.set_rng_state(state)


def model_device(model: torch.nn.Module) -> torch.device:
    """The device a model's weights are on."""
    return next(model.parameters()).device


def synchronize(device: str | torch.device) -> Callable[[], None]:
    """A function that waits for queued GPU work (nothing to wait for on a CPU)."""
    kind = torch.device(device).type
    if kind == "cuda":
        return torch.cuda.synchronize
    if kind == "mps":
        return torch.mps.synchronize
    return lambda: None
