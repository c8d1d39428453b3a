"""The cardiologist's over-read: the computer's statements as the starting proposal, the reader's
edits (accept, edit, remove, add), and the confirmation with a name and a time, as MUSE and
IntelliSpace keep them. Every change is an ``Event`` in the history, so who changed what and when
is never lost; the computer's original statements are kept apart and never edited.

Plain Python: the window edits it, ``library.overreads`` stores it after every change (a killed
process loses nothing), the report prints it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from ecgviewer.errors import EcgError
from ecgviewer.interpretation import Statement

ACTIONS = ("start", "add", "edit", "remove", "move", "confirm", "reopen")
UNCONFIRMED = "Unconfirmed computer interpretation"


def now() -> str:
    """Local time with its offset, to the second: what "Confirmed by NAME, DATE" prints."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


@dataclass(frozen=True)
class Event:
    """One change: who, when, what (``action``), the statement's text after and before."""

    at: str
    reader: str
    action: str
    text: str = ""
    before: str = ""

    def line(self) -> str:
        what = {
            "start": "started the over-read",
            "add": f"added \u201c{self.text}\u201d",
            "edit": f"changed \u201c{self.before}\u201d to \u201c{self.text}\u201d",
            "remove": f"removed \u201c{self.before}\u201d",
            "move": f"moved \u201c{self.text}\u201d",
            "confirm": "confirmed",
            "reopen": "reopened the confirmed interpretation",
        }[self.action]
        return f"{self.at[:16].replace('T', ' ')} {self.reader}: {what}"

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Event:
        def text(key: str) -> str:
            value = data.get(key, "")
            return value if isinstance(value, str) else ""

        action = text("action")
        return cls(
            text("at"), text("reader"), action if action in ACTIONS else "edit", text("text"), text("before")
        )


def _reader(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise EcgError("the over-read needs the reader's name (Preferences > Reading)")
    return name


@dataclass
class Overread:
    """The reader's statements over the computer's (``computer``, as proposed, kept apart)."""

    computer: tuple[Statement, ...]
    statements: list[Statement]
    confirmed_by: str | None = None
    confirmed_at: str | None = None
    history: list[Event] = field(default_factory=list)

    @classmethod
    def start(cls, computer: Sequence[Statement], reader: str) -> Overread:
        """A draft over-read with every computer statement accepted as proposed."""
        read = cls(tuple(computer), list(computer))
        read._log(reader, "start")
        return read

    @property
    def confirmed(self) -> bool:
        return self.confirmed_by is not None

    def status(self) -> str:
        """ "Confirmed by NAME, 2026-11-28 23:10" or that the computer's proposal stands unconfirmed."""
        if self.confirmed_by is None or self.confirmed_at is None:
            return UNCONFIRMED if not self.edited() else "Edited, not confirmed"
        return f"Confirmed by {self.confirmed_by}, {self.confirmed_at[:16].replace('T', ' ')}"

    def edited(self) -> bool:
        """The reader's statements differ from the computer's."""
        return [s.text for s in self.statements] != [s.text for s in self.computer]

    def _log(self, reader: str, action: str, text: str = "", before: str = "") -> Event:
        event = Event(now(), _reader(reader), action, text, before)
        self.history.append(event)
        return event

    def _changed(self, reader: str) -> None:
        """An edit to a confirmed interpretation reopens it: it must be confirmed again."""
        if self.confirmed:
            self.confirmed_by = self.confirmed_at = None
            self._log(reader, "reopen")

    def _index(self, i: int) -> int:
        if not 0 <= i < len(self.statements):
            raise EcgError(f"there is no statement {i + 1} (the interpretation has {len(self.statements)})")
        return i

    def add(self, reader: str, statement: Statement, at: int | None = None) -> None:
        text = statement.text.strip()
        if not text:
            raise EcgError("an empty statement cannot be added")
        same = [k for k, s in enumerate(self.statements, 1) if s.text.lower() == text.lower()]
        if same:
            raise EcgError(f"\u201c{text}\u201d is already statement {same[0]}")
        self._changed(reader)
        s = replace(statement, text=text, origin="reader", evidence="", likelihood="")
        self.statements.insert(len(self.statements) if at is None else at, s)
        self._log(reader, "add", text)

    def edit(self, reader: str, i: int, text: str, code: str | None = None) -> None:
        """Reword statement ``i`` (a vocabulary code with it, or free text: no code)."""
        old = self.statements[self._index(i)]
        text = text.strip()
        if not text:
            raise EcgError("a statement cannot be emptied: remove it instead")
        if text == old.text and code == old.code:
            return
        self._changed(reader)
        self.statements[i] = replace(old, text=text, code=code, origin="reader", evidence="", likelihood="")
        self._log(reader, "edit", text, old.text)

    def remove(self, reader: str, i: int) -> None:
        old = self.statements[self._index(i)]
        self._changed(reader)
        del self.statements[i]
        self._log(reader, "remove", before=old.text)

    def move(self, reader: str, i: int, to: int) -> None:
        s = self.statements[self._index(i)]
        to = self._index(to)
        if to == i:
            return
        self._changed(reader)
        del self.statements[i]
        self.statements.insert(to, s)
        self._log(reader, "move", s.text)

    def confirm(self, reader: str) -> None:
        """Sign the statements as they stand."""
        if self.confirmed:
            return
        event = self._log(reader, "confirm")
        self.confirmed_by, self.confirmed_at = event.reader, event.at
