"""Which int8 kernels this processor gets from onnxruntime (no torch: the tests read it too).

With VNNI (AVX-512 or AVX) onnxruntime multiplies u8 x s8 exactly; on plain AVX2 its pairwise
sums can saturate. The same int8 file then gives answer logits up to ~0.7 apart (an AMD EPYC
without VNNI against an Intel Xeon with it), so recorded int8 outputs replay exactly only on a
processor of the exporting kind; the export records which kind that was.
"""

from __future__ import annotations

from pathlib import Path


def cpu_has_vnni() -> bool:
    """Whether this processor has VNNI (AVX-512 or AVX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags
