"""What the model card says about findings from fewer than 12 leads, in words.

The classifier was trained on 12-lead PTB-XL; users also open limb-lead, Holter and single-lead
recordings. ``python -m training lead-sets`` measures the model on such lead sets and keeps the
test fold's figures in the card (``lead_sets``); this turns them into the caveat the window, the
report and ``analyze`` show beside the findings of a recording that lacks leads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ecgviewer.leads import STANDARD_LEADS


@dataclass(frozen=True)
class LeadNote:
    text: str  # one sentence, for the window and ``analyze``
    short: str  # one short line, for the report's narrow column


def lead_note(section: dict | None, missing: Sequence[str]) -> LeadNote | None:
    """None for a 12-lead recording; otherwise the recorded leads and the card's figure for the
    measured set that equals them (or, failing that, the largest measured set within them)."""
    present = [lead for lead in STANDARD_LEADS if lead not in set(missing)]
    if len(present) == len(STANDARD_LEADS):
        return None
    head = f"{len(present)} of 12 leads ({', '.join(present) or 'none'})"
    if not section:
        return LeadNote(f"{head}: the model was validated on 12 leads; its card has no figures for fewer.",
                        f"{len(present)} of 12 leads: not validated on fewer")  # fmt: skip
    ref, task, fold = section["reference"]["auroc"], section["task"], section["fold"]
    within = [s for s in section["sets"] if set(s["leads"]) <= set(present)]
    if not within:
        return LeadNote(
            f"{head}: not measured with these leads; with all 12 the model's macro AUROC ({task}) "
            f"was {ref:.2f} on PTB-XL fold {fold}.",
            f"{len(present)} of 12 leads: not measured (12 leads: AUROC {ref:.2f})",
        )
    best = max(within, key=lambda s: len(s["leads"]))
    which = "these leads" if set(best["leads"]) == set(present) else f"fewer of them ({best['name']})"
    return LeadNote(
        f"{head}: with {which} the model's macro AUROC ({task}) on PTB-XL fold {fold} was "
        f"{best['auroc']:.2f}, against {ref:.2f} with all 12.",
        f"{len(present)} of 12 leads: AUROC {best['auroc']:.2f} (12 leads: {ref:.2f})",
    )
