"""``ecgviewer self-test``: what an installed or frozen app must be able to do, end to end and
headless: read the bundled sample, run the bundled model and an attribution, measure, and paint a
report. A missing library, model file, Qt plugin or font shows here as a failed step, not as a
crash in front of a clinician.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ecgviewer.errors import EcgError

SELF_TEST_STEPS = 8  # Integrated Gradients steps: enough to exercise captum, quick on a CPU


class SelfTestError(EcgError):
    """A step of the self-test failed; the message names it."""


@contextmanager
def _step(name: str, say: Callable[[str], None]) -> Iterator[dict]:
    """Time one step; any exception becomes a SelfTestError naming the step."""
    info: dict = {}
    t0 = time.perf_counter()
    try:
        yield info
    except SelfTestError:
        raise
    except Exception as exc:  # the point of a self-test: report whatever broke, then stop
        raise SelfTestError(f"self-test step '{name}' failed: {type(exc).__name__}: {exc}") from exc
    say(f"ok  {name:<12} {(time.perf_counter() - t0) * 1e3:8.0f} ms  {info.get('detail', '')}")


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise SelfTestError(f"self-test check failed: {what}")


def run(out: Path | None = None, say: Callable[[str], None] = print) -> None:
    """Every step, or a SelfTestError; ``out`` keeps the report's PDF."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    start = time.perf_counter()
    with _step("sample", say) as info:
        from ecgviewer.assets import sample_path
        from ecgviewer.io import load

        rec = load(sample_path())
        _require(len(rec.leads) == 12 and rec.duration > 5, "the bundled sample has 12 leads and 10 s")
        info["detail"] = f"{rec.name}: {len(rec.leads)} leads, {rec.duration:g} s at {rec.fs:g} Hz"
    with _step("model", say) as info:
        from ecgviewer.ml.infer import Analyzer

        analyzer = Analyzer(device="cpu")
        info["detail"] = f"{analyzer.name}, sha256 {analyzer.sha256[:12]}"
    with _step("predict", say) as info:
        from ecgviewer.analysis import analyse
        from ecgviewer.ml import session

        found = analyse(rec, analyzer=analyzer, request=session.Request(n_steps=SELF_TEST_STEPS))
        result = found.ai
        _require(result is not None, "the model analyses the sample")
        top = result.analysis.predictions.top(result.target.task)
        _require(0.0 <= top.probability <= 1.0, "probabilities lie in [0, 1]")
        e = result.explanation
        _require(bool(np.isfinite(e.beats).all() and np.abs(e.leads).sum() > 0), "attributions are finite")
        maps = result.attention
        _require(maps is not None and bool(np.isfinite(maps.rollout).all()), "attention maps are finite")
        steps = f" {e.n_steps} steps" if e.n_steps is not None else ""
        info["detail"] = f"{top.code} p = {top.probability:.2f}; {e.method_name}{steps}; attention"
    with _step("measure", say) as info:
        from ecgviewer.measure.delineate import Delineator

        m = analyse(rec, delineator=Delineator.bundled(), previous=found).measurements
        _require(m is not None, "the sample is measured")
        hr = m.values["hr"].value
        _require(hr is not None and 30 < hr < 200, "a heart rate is measured")
        info["detail"] = f"HR {hr:.0f} bpm, QRS {m.values['qrs'].value or float('nan'):.0f} ms"
    with _step("report", say) as info:
        from ecgviewer.render.options import ViewOptions
        from ecgviewer.render.painting import ensure_app, image_array
        from ecgviewer.report import make, pages

        ensure_app()
        report = make.make(rec, ViewOptions(), result=result, analyzer=analyzer, measurements=m)
        pdf = pages.pdf_bytes(report, "a4")
        _require(pdf.startswith(b"%PDF") and len(pdf) > 10_000, "a PDF is written")
        image = pages.page_image(report, 0, "a4", 50.0)
        ink = (image_array(image)[..., :3].sum(axis=-1) < 200).mean()
        _require(ink > 0.002, "page one has traces and text on it")
        if out is not None:
            from ecgviewer.storage import atomic_write_bytes

            atomic_write_bytes(out, pdf)
        n = pages.page_count(report, "a4")
        info["detail"] = f"{n} pages, {len(pdf) // 1024} KiB PDF" + (f" -> {out}" if out else "")
    say(f"self-test passed in {time.perf_counter() - start:.1f} s")
