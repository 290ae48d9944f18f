"""What a rule reports about one function, as data.

A `Violation` is a finding before it has a file, a severity or text: its rule,
the site it is about (offsets and rows of the text the function was analysed
in), a `Message` whose line numbers are references, related places (sites in
the function, or declarations found later), and the lock event it is about
(the call itself, or the acquire of a leaked lock) for quick-fixes and clients.
When a function's cached result is reused after it moved, `shifted` moves all of
it; nothing is parsed back from text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from lockls.ir.events import Declared, Site
from lockls.ir.message import Message


def shift_site(site: Site, db: int, dr: int) -> Site:
    if not db and not dr:
        return site
    return Site(site.start_byte + db, site.end_byte + db, (site.start[0] + dr, site.start[1]),
                (site.end[0] + dr, site.end[1]))


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    site: Site
    message: Message
    related: tuple = ()  # of (Site | Declared, Message)
    lock: Optional[object] = None  # the lock event it is about (sites stay where it was analysed)

    def shifted(self, db: int, dr: int) -> Violation:
        """The same violation in a function that moved `db` bytes and `dr` rows."""
        if not db and not dr:
            return self
        return Violation(self.rule, shift_site(self.site, db, dr), self.message.shifted(dr),
                         tuple((shift_site(p, db, dr) if isinstance(p, Site) else p, m.shifted(dr))
                               for p, m in self.related),
                         self.lock)

    @property
    def declared(self) -> list:
        return [(p, m) for p, m in self.related if isinstance(p, Declared)]
