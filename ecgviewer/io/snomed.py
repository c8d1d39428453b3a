"""SNOMED CT codes of the PhysioNet/Computing in Cardiology Challenge 2020/2021 WFDB headers
(``# Dx: 426783006,164934002``), named so that a reader need not look them up.

The table is the Challenge's scored diagnoses: ``dx_mapping_scored.csv`` of the Challenge's
evaluation code (physionetchallenges/evaluation-2021, commit 09de852841a9fa497fb9efb80734dafd13e4ec1f;
Reyna et al., "Will Two Do? Varying Dimensions in Electrocardiography: The PhysioNet/Computing in
Cardiology Challenge 2021", CinC 2021). Names are that file's ``Dx`` column in sentence case, with
its abbreviation. A code outside the table is kept as ``SNOMED CT <code>``, never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# code -> (name, the Challenge's abbreviation)
SCORED: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "164889003": ("Atrial fibrillation", "AF"),
        "164890007": ("Atrial flutter", "AFL"),
        "6374002": ("Bundle branch block", "BBB"),
        "426627000": ("Bradycardia", "Brady"),
        "733534002": ("Complete left bundle branch block", "CLBBB"),
        "713427006": ("Complete right bundle branch block", "CRBBB"),
        "270492004": ("1st degree AV block", "IAVB"),
        "713426002": ("Incomplete right bundle branch block", "IRBBB"),
        "39732003": ("Left axis deviation", "LAD"),
        "445118002": ("Left anterior fascicular block", "LAnFB"),
        "164909002": ("Left bundle branch block", "LBBB"),
        "251146004": ("Low QRS voltages", "LQRSV"),
        "698252002": ("Nonspecific intraventricular conduction disorder", "NSIVCB"),
        "426783006": ("Sinus rhythm", "NSR"),
        "284470004": ("Premature atrial contraction", "PAC"),
        "10370003": ("Pacing rhythm", "PR"),
        "365413008": ("Poor R wave progression", "PRWP"),
        "427172004": ("Premature ventricular contractions", "PVC"),
        "164947007": ("Prolonged PR interval", "LPR"),
        "111975006": ("Prolonged QT interval", "LQT"),
        "164917005": ("Q wave abnormal", "QAb"),
        "47665007": ("Right axis deviation", "RAD"),
        "59118001": ("Right bundle branch block", "RBBB"),
        "427393009": ("Sinus arrhythmia", "SA"),
        "426177001": ("Sinus bradycardia", "SB"),
        "427084000": ("Sinus tachycardia", "STach"),
        "63593006": ("Supraventricular premature beats", "SVPB"),
        "164934002": ("T wave abnormal", "TAb"),
        "59931005": ("T wave inversion", "TInv"),
        "17338001": ("Ventricular premature beats", "VPB"),
    }
)


def statement(code: str) -> str:
    """One Dx code as the recording's statement: ``Sinus rhythm (NSR, SNOMED CT 426783006)``, or
    ``SNOMED CT <code>`` for a code the table does not name."""
    code = code.strip()
    named = SCORED.get(code)
    return f"{named[0]} ({named[1]}, SNOMED CT {code})" if named else f"SNOMED CT {code}"


def statements(dx: str) -> list[str]:
    """A ``Dx`` field (comma-separated codes, as the Challenge writes it) as statements, in order."""
    return [statement(code) for code in dx.split(",") if code.strip()]
