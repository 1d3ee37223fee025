"""The CPU a figure was measured on: model name and the ISA flags that change inference speed.

int8 graphs run about 2.4× faster on CPUs with AVX-512 VNNI than on AVX2-only ones, so a speed
figure without its CPU cannot be compared with another."""

from __future__ import annotations

import os
import platform

SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8")


def describe() -> str:
    """'Intel(R) Xeon(R) ..., 2 cores, avx2 avx512f avx512_vnni' (plus the oneDNN ISA cap when set)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    isa = " ".join(flag for flag in SPEED_FLAGS if flag in flags) or "no x86 SIMD flags read"
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA")
    return f"{model}, {os.cpu_count()} cores, {isa}" + (f" (torch capped at ONEDNN_MAX_CPU_ISA={cap})" if cap else "")


if __name__ == "__main__":
    print(describe())
