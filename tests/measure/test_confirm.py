"""Issue 74: the beat list's second opinion (``measure.confirm``) is asked only about beats unlike
the dominant one, reads each stretch once, and says which of them it finds no QRS at."""

from __future__ import annotations

import numpy as np

from ecgviewer.measure import confirm, signal
from ecgviewer.measure.delineate import Delineator
from ecgviewer.measure.unet import CLASSES

QRS = CLASSES.index("QRS")


class _Second:
    """A stand-in second opinion that labels QRS around the samples it is told of, and keeps
    what it was asked to read."""

    def __init__(self, qrs_at: list[int]) -> None:
        self.qrs_at, self.read, self.calls = qrs_at, [], 0

    def labels_of(self, stretches: list[np.ndarray]) -> list[np.ndarray]:
        self.calls += 1
        return [self.labels(x) for x in stretches]

    def labels(self, x: np.ndarray) -> np.ndarray:
        start = self._where(x)
        self.read.append((start, start + x.shape[-1]))
        out = np.zeros(x.shape, dtype=np.int64)
        for s in self.qrs_at:
            if start <= s < start + x.shape[-1]:
                out[:, max(0, s - start - 10) : s - start + 10] = QRS
        return out

    def _where(self, x: np.ndarray) -> int:
        return round(x[0, 0])  # the page below holds each sample's own index


def _page(n: int) -> np.ndarray:
    return np.tile(np.arange(n, dtype=np.float64), (2, 1))


def test_beats_like_the_dominant_one_are_not_asked_about():
    second = _Second([])
    r = np.arange(250, 5000, 250)
    out = confirm.unconfirmed(_page(5000), r, np.full(len(r), 0.99), second)
    assert not out.any() and second.read == []


def test_a_doubtful_beat_without_a_qrs_in_the_second_opinion_is_unconfirmed():
    n = 20 * signal.FS
    r = np.array([1000, 1250, 1500, 4000])
    qrs_r = np.array([0.99, 0.5, 0.99, 0.3])  # beats 1 and 3 doubtful
    second = _Second([1250])  # it finds the QRS of beat 1 only
    out = confirm.unconfirmed(_page(n), r, qrs_r, second)
    assert out.tolist() == [0.0, 0.0, 0.0, 1.0]


def test_a_qrs_further_than_the_tolerance_does_not_confirm():
    tol = round(confirm.CONFIRM_MS * signal.FS / 1000)
    second = _Second([2000 + tol + 30])
    out = confirm.unconfirmed(_page(10 * signal.FS), np.array([2000]), np.array([0.2]), second)
    assert out.tolist() == [1.0]


def test_overlapping_stretches_are_read_once_and_far_ones_apart():
    context = round(confirm.CONTEXT_S * signal.FS)
    n = 60 * signal.FS
    r = np.array([3000, 3200, 3400, 9000])  # three within each other's reach, one far away
    second = _Second([])
    out = confirm.unconfirmed(_page(n), r, np.zeros(4), second)
    assert out.tolist() == [1.0] * 4
    first, far = (3000 - context, 3400 + context), (9000 - context, 9000 + context)
    assert second.read == [(a, a + confirm._length(b - a)) for a, b in (first, far)]


def test_far_stretches_of_one_length_are_read_in_one_call_each_alone():
    """Isolated doubtful beats (a patient's PVCs) make stretches of one length: read together, as
    the bundled second opinion labels each of them read alone (batches of powers of two)."""
    context = round(confirm.CONTEXT_S * signal.FS)
    r = np.arange(1000, 13000, 1000)  # twelve beats 4 s apart, each stretch 2 * context long
    second = _Second(r[::2].tolist())
    out = confirm.unconfirmed(_page(14000), r, np.zeros(len(r)), second)
    assert out.tolist() == [0.0, 1.0] * 6 and second.calls == 1
    assert second.read == [(a - context, a - context + confirm._length(2 * context)) for a in r]
    rng = np.random.default_rng(0)
    stretches = [rng.normal(0, 0.3, (2, 768)).astype(np.float32) for _ in range(5)]
    bundled = confirm.bundled()
    together = bundled.labels_of(stretches)  # a batch of four, then one
    assert len(together) == 5
    assert all((t == bundled.labels(x)).all() for t, x in zip(together, stretches, strict=True))


def test_beats_the_page_leaves_to_the_next_are_not_read_for_unless_beside_a_page_beat():
    """A beat list's page is read with margins; the beats there are the next page's to list, and
    the last, cut by the page's end, is unlike every other: no stretch is read for it alone. One
    overlapping a page beat's stretch still widens it, so that the page beat's answer stays."""
    context = round(confirm.CONTEXT_S * signal.FS)
    n = 20 * signal.FS
    r = np.array([1000, 2000, 3000, n - 5])
    kept = np.array([True, True, True, False])
    second = _Second([])
    out = confirm.unconfirmed(_page(n), r, np.array([0.99, 0.2, 0.99, -0.4]), second, kept)
    assert out.tolist() == [0.0, 1.0, 0.0, 0.0] and len(second.read) == 1
    r[2] = n - 200  # a page beat whose stretch the margin beat's overlaps
    second = _Second([])
    out = confirm.unconfirmed(_page(n), r, np.array([0.99, 0.2, 0.2, -0.4]), second, kept)
    assert second.read[-1] == (n - 200 - context, n) and out.tolist() == [0.0, 1.0, 1.0, 1.0]


def test_a_not_measured_correlation_is_asked_about_and_the_page_edges_hold():
    context = round(confirm.CONTEXT_S * signal.FS)
    second = _Second([10])
    n = 4 * context
    out = confirm.unconfirmed(_page(n), np.array([10, n - 10]), np.array([np.nan, 0.1]), second)
    assert out.tolist() == [0.0, 1.0]
    assert second.read == [(0, confirm._length(10 + context)), (n - 10 - context, n)]  # none past the end


def test_stretches_are_read_at_few_lengths_with_the_same_labels_where_beats_can_be(sample):
    """The 8-bit engine builds its kernels for each new input length, so a stretch is read at one
    of a few lengths (``_length``: grown to the right by at most a quarter or 255 samples); the second
    opinion's labels up to CONTEXT_S before the stretch's own end, where its beats' R peaks are,
    are the same as the stretch read alone (the bundled sample's leads, stretches of many lengths)."""
    from ecgviewer.io import load

    lengths = [confirm._length(n) for n in range(1, 16001)]
    assert all(
        n <= m <= max(n + 255, 1.25 * n) and m % confirm.LENGTH_STEP == 0 for n, m in enumerate(lengths, 1)
    )
    assert len(set(lengths)) <= 40
    rec = load(sample)
    x = signal.prepare(rec.signals[[rec.index("II"), rec.index("V1")]], rec.fs)
    x = np.tile(x, 3)
    second, context = confirm.bundled(), round(confirm.CONTEXT_S * signal.FS)
    for a, n in [(0, 750), (131, 777), (400, 1150), (1003, 1900), (57, 3300), (2000, 4001)]:
        alone = second.labels(x[:, a : a + n])
        grown = second.labels(x[:, a : a + confirm._length(n)])
        assert (alone[:, : n - context] == grown[:, : n - context]).all(), (a, n)


def test_the_bundled_second_opinion_loads_in_its_8_bit_form():
    second = Delineator.second_opinion()
    assert second.int8().in_int8 and second.meta["contract"] == signal.VERSION


def test_a_run_of_broad_beats_the_second_opinion_doubts_is_still_listed_ventricular():
    """The motion-taught delineator misses fast broad complexes (why it is only a second opinion):
    the classifier weighs its doubt against their likeness and timing, and keeps them."""
    from ecgviewer.measure import beat_classes as C
    from ecgviewer.measure import rhythm as R
    from tests.measure.beat_records import ectopic, record, sample_beat

    beat, wide = sample_beat(), ectopic()
    beats = [(t, beat) for t in np.arange(1.0, 20.0, 0.9)]
    beats += [(20.0 + 0.45 * k, wide) for k in range(4)]  # a run of broad beats at 133 bpm
    beats += [(t, beat) for t in np.arange(22.5, 29.0, 0.9)]
    found = R.detect(record(beats, 30.0))
    unconfirmed = found.features[C.FEATURES.index("unconfirmed")]
    qrs_r = found.features[C.FEATURES.index("qrs_r")]
    broad = (found.t_s > 19.9) & (found.t_s < 21.5)
    assert broad.sum() == 4 and (qrs_r[broad] < confirm.SUSPECT_R).all()  # asked about
    assert not unconfirmed[~broad].any() and unconfirmed[broad].any()  # the sinus beats were not
    listed = R.classify(found, C.BeatClassifier.bundled())
    run = (listed.t_s > 19.9) & (listed.t_s < 21.5)
    assert run.sum() == 4 and (listed.kind[run] == R.VENTRICULAR).all()
    assert any(e.kind == "ventricular run" for e in listed.events)


def _shapes(kinds: list[int], seed: int = 0) -> np.ndarray:
    """(beats, 2 leads, 50) float16 shapes: kind 0 a sinus QRS, kind 1 one broad ectopic shape,
    kind -1 noise of its own at every beat (a motion transient), kinds 2 to 4 three other shapes."""
    rng = np.random.default_rng(seed)
    s = np.linspace(-1, 1, 50)
    sinus, ectopic = np.exp(-(s**2) / 0.01), -np.sin(np.pi * s) * np.exp(-(s**2) / 0.2)
    shape = {
        0: np.stack([sinus, 0.5 * sinus]),
        1: np.stack([ectopic, -ectopic]),
        2: np.stack([np.sin(3 * np.pi * s), np.cos(2 * np.pi * s)]),
        3: np.stack([s**3, np.sin(5 * s)]),
        4: np.stack([np.cos(4 * np.pi * s), s * np.exp(-(s**2) / 0.05)]),
    }
    rows = [shape[k] if k in shape else rng.normal(size=(2, 50)) for k in kinds]
    return np.asarray(rows, dtype=np.float16)


def test_an_unconfirmed_detection_is_no_beat_only_where_its_shape_does_not_recur_nearby():
    """An ectopic focus repeats its shape; a motion transient does not. Confirmed beats, however
    odd, are never judged here, and a likeness further than ``around`` beats away does not count."""
    kinds = [0] * 40
    kinds[5] = -1  # a lone transient, unconfirmed
    kinds[12] = kinds[14] = 1  # two alike ectopic beats, one unconfirmed
    kinds[30] = 1  # an ectopic beat 16 beats from the last: alike only within a wide reach
    kinds[35] = -1  # another transient, confirmed
    unconfirmed = np.zeros(40, np.float32)
    unconfirmed[[5, 12, 30]] = 1
    shapes = _shapes(kinds)
    assert np.flatnonzero(confirm.not_beats(unconfirmed, shapes)).tolist() == [5]
    assert np.flatnonzero(confirm.not_beats(unconfirmed, shapes, around=8)).tolist() == [5, 30]
    assert not confirm.not_beats(np.zeros(40, np.float32), shapes).any()
    assert confirm.not_beats(np.zeros(0, np.float32), shapes[:0]).shape == (0,)


class _Ventricular:
    """A stand-in classifier that calls every beat ventricular."""

    two_pass = False

    def labelled(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from ecgviewer.measure.beat_classes import CLASSES

        label = np.full(features.shape[1], CLASSES.index("ventricular"))
        return label, np.eye(len(CLASSES))[label]


def _detected(t: np.ndarray, features: np.ndarray, shapes: np.ndarray):
    """A ``rhythm.Detected`` of sinus-found beats at ``t`` with these features and QRS shapes."""
    from ecgviewer.measure import rhythm as R

    n = len(t)
    return R.Detected(
        t, np.full(n, R.NORMAL, np.int8), np.full((5, n), np.nan), features, shapes, [],
        float(t[-1] + 1.0), ("II", "V1"), (),
    )  # fmt: skip


def test_the_beat_list_leaves_out_what_the_second_opinion_judges_no_beat():
    """Whatever the classifier calls it, a lone unconfirmed detection is not listed and is counted
    among the detections of noise; an unconfirmed one like a neighbour keeps its class."""
    from ecgviewer.measure import beat_classes as C
    from ecgviewer.measure import rhythm as R

    n = 40
    t = 1.0 + 0.8 * np.arange(n)
    kinds = [0] * n
    kinds[5], kinds[12], kinds[14] = -1, 1, 1
    features = np.zeros((len(C.FEATURES), n))
    features[C.FEATURES.index("unconfirmed"), [5, 12]] = 1
    listed = R.classify(_detected(t, features, _shapes(kinds)), _Ventricular())  # type: ignore[arg-type]
    assert len(listed.t_s) == n - 1 and t[5] not in listed.t_s and t[12] in listed.t_s
    assert (listed.kind == R.VENTRICULAR).all()
    assert "1 detection of noise left out" in listed.notes


def test_unconfirmed_detections_alike_only_each_other_are_no_beats_unless_side_by_side():
    """Dense electrode motion makes transients that resemble one another, a beat or more apart; an
    ectopic couplet's or run's beats, which the second opinion may all doubt (a fast broad
    tachycardia), resemble the beat next to them."""
    kinds = [0] * 60
    kinds[10] = kinds[13] = kinds[16] = 2  # three alike transients, all unconfirmed
    kinds[40] = kinds[41] = kinds[42] = 3  # a run of three, none confirmed
    kinds[50] = kinds[51] = 4  # a couplet, neither confirmed
    unconfirmed = np.zeros(60, np.float32)
    unconfirmed[[10, 13, 16, 40, 41, 42, 50, 51]] = 1
    shapes = _shapes(kinds)
    assert np.flatnonzero(confirm.not_beats(unconfirmed, shapes)).tolist() == [10, 13, 16]
    kinds[20] = 2  # the transients' shape in a confirmed detection: a beat's shape after all
    assert not confirm.not_beats(unconfirmed, _shapes(kinds)).any()


def test_where_the_beats_around_are_doubted_one_like_the_dominant_beat_is_not_called_ventricular():
    """Electrode motion widens and bends a true beat's QRS: among detections judged noise, a beat
    called ventricular whose QRS still matches the dominant one (r of OTHER_R or more) is listed
    unreadable, its class not read; one unlike it stays ventricular, and so does one like it where
    the detections around are not doubted."""
    from ecgviewer.measure import beat_classes as C
    from ecgviewer.measure import rhythm as R

    n = 80
    t = 1.0 + 0.8 * np.arange(n)
    features = np.zeros((len(C.FEATURES), n))
    qrs_r = features[C.FEATURES.index("qrs_r")]
    qrs_r[:] = C.OTHER_R + 0.05
    qrs_r[[20, 60]] = C.OTHER_R - 0.4  # unlike the dominant beat: one in the noise, one clear of it
    noise = [14, 16, 18, 22, 24]  # lone transients the second opinion finds no QRS at, around beat 20
    features[C.FEATURES.index("unconfirmed"), noise] = 1
    kinds = [0] * n
    for k in noise:
        kinds[k] = -1
    listed = R.classify(_detected(t, features, _shapes(kinds)), _Ventricular())  # type: ignore[arg-type]
    beat = ~np.isin(np.arange(n), noise)
    assert np.array_equal(listed.t_s, t[beat])  # the transients left out, not a stretch of noise
    in_noise = R._share(~beat, R.DOUBTED_BEATS) >= R.DOUBTED_SHARE
    assert in_noise[20] and in_noise[beat].sum() >= 5 and not in_noise[40:].any()
    called = np.where(in_noise & (qrs_r >= C.OTHER_R), R.UNREADABLE, R.VENTRICULAR)[beat]
    assert np.array_equal(listed.kind, called)
    at = {round(x, 3): k for x, k in zip(listed.t_s, listed.kind, strict=True)}
    assert at[round(t[20], 3)] == at[round(t[60], 3)] == at[round(t[40], 3)] == R.VENTRICULAR
    unread = int((listed.kind == R.UNREADABLE).sum())
    assert f"{unread} beats in noise not classed: the dominant QRS, bent by it" in listed.reading()
    assert R._share(np.zeros(0, bool), R.DOUBTED_BEATS).shape == (0,)  # a list with no detection
