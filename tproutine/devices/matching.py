"""Which profile an advertisement belongs to, how sure that is, and whether to drive it.

A profile's ``match`` says how to recognise its devices (see
:class:`~tproutine.devices.profile.Match`). The rules, in the order they apply:

1. **Names are required** where a profile gives them: the advertised name must
   fit one of the globs (case-sensitive, as names are).
2. **A service given with names is required as well**, as far as the advert can
   tell: a device that advertises a vendor service must advertise one of the
   profile's. One that advertises none (many put only their name in the
   advert) still matches on the name, and its GATT table must hold the
   profile's ``gatt`` service when it connects, before anything is written.
   Standard Bluetooth services (0x1800-0x18FF, the battery and device
   information) say nothing about the maker and are not counted.
3. Without names, a profile's services (then its company id) must fit.
4. A device that fits the profile's ``not_massagers`` is known but **not a
   massager**: it is named in a scan and never connected to.

``--device auto`` takes only a massager recognised on **more than a bare
common word**: a name that is a single word of letters (``Pro``, ``Elite``,
``Wish``, ``Classic``) or a number (Svakom's ``116``) is not enough alone;
the advertised service must confirm it. Such a device can still be chosen by
its name or address.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from tproutine.devices.profile import DeviceProfile, try_uuid, uuid_matches

_BASE = "-0000-1000-8000-00805f9b34fb"
# Profiles of the person's own rank with community ones: never above verified.
_STATUS_RANK = {"verified": 0, "reference": 1, "community": 2}


def is_standard_service(uuid: str) -> bool:
    """A Bluetooth SIG service (0x1800-0x18FF): battery, device information, ..."""
    return uuid.endswith(_BASE) and uuid.startswith("000018")


def is_bare_word(glob: str) -> bool:
    """A name pattern that is one word of letters, or a number: too common to go on alone."""
    return glob.isalpha() or glob.isdigit()


def short_uuid(uuid: str) -> str:
    """``FFE0`` for a 16-bit UUID, else the first group (``5a300001-…``)."""
    if uuid.endswith(_BASE) and uuid.startswith("0000"):
        return uuid[4:8].upper()
    return uuid[:8] + "-…"


@dataclass(frozen=True, slots=True)
class Fit:
    """How an advertisement fits one profile: the evidence, and what the app may do."""

    profile: DeviceProfile
    name: str | None = None  # the name glob that fits
    service: str | None = None  # the advertised service that fits
    company: int | None = None
    not_massager: str | None = None  # the not_massagers pattern that fits

    @property
    def strength(self) -> int:
        """Higher for stronger evidence: a name beats a service beats a company."""
        return (
            4 * (self.name is not None)
            + 2 * (self.service is not None)
            + (self.company is not None)
        )

    @property
    def massager(self) -> bool:
        return self.not_massager is None

    @property
    def common_word(self) -> bool:
        """Recognised on a bare common word alone (no service confirms it)."""
        return self.service is None and self.name is not None and is_bare_word(self.name)

    @property
    def auto(self) -> bool:
        """Whether ``--device auto`` may connect: a massager, on more than a common word."""
        if not self.massager:
            return False
        return self.service is not None or (self.name is not None and not self.common_word)

    @property
    def why(self) -> str:
        """The evidence in a few words, for ``devices scan``."""
        if self.not_massager is not None:
            return f"not a massager ({self.profile.id} lists {self.not_massager}): never connected"
        parts = []
        if self.name is not None:
            parts.append(f"name {self.name}")
        if self.service is not None:
            parts.append(f"service {short_uuid(self.service)}")
        if self.company is not None:
            parts.append(f"company 0x{self.company:04X}")
        text = " + ".join(parts)
        if self.common_word:
            return f"{text} only, a common word: --device auto passes it by"
        if self.name is not None and self.service is None and self.profile.match.services:
            return f"{text} (service not advertised; checked on connecting)"
        if not self.auto:
            return f"{text} only: --device auto passes it by"
        return text


def fit(
    profile: DeviceProfile,
    name: str | None,
    services: Iterable[str],
    companies: Iterable[int] = (),
) -> Fit | None:
    """How the advertisement fits ``profile``, or None (the rules are in the module docstring).

    ``services`` must be normalised (see :func:`~tproutine.devices.profile.try_uuid`).
    """
    m = profile.match
    advertised = list(services)
    glob: str | None = None
    if m.names:
        glob = next((g for g in m.names if name and fnmatchcase(name, g)), None)
        if glob is None:
            return None
    service = next((s for s in advertised for p in m.services if uuid_matches(p, s)), None)
    if m.services and service is None:
        vendor = [s for s in advertised if not is_standard_service(s)]
        if not m.names or vendor:
            return None
    company = m.company_id if m.company_id is not None and m.company_id in companies else None
    if glob is None and service is None and company is None:
        return None
    not_massager = next((g for g in m.not_names if name and fnmatchcase(name, g)), None)
    if not_massager is None:
        not_massager = next(
            (short_uuid(p) for p in m.not_services for s in advertised if uuid_matches(p, s)),
            None,
        )
    return Fit(profile, glob, service, company, not_massager)


def _profiles(
    profiles: Mapping[str, DeviceProfile] | Iterable[DeviceProfile],
) -> Iterable[DeviceProfile]:
    return profiles.values() if isinstance(profiles, Mapping) else profiles


def match_device(
    profiles: Mapping[str, DeviceProfile] | Iterable[DeviceProfile],
    name: str | None,
    service_uuids: Iterable[str],
    manufacturer_ids: Iterable[int] = (),
) -> Fit | None:
    """The best fit of an advertisement among ``profiles``, or None.

    UUIDs may be in any form; unreadable ones are ignored. With several fits
    the strongest evidence wins, then a "not a massager" verdict (safety
    first), then the better-checked status (verified, reference, community;
    the person's own profiles count as community), then the id.
    """
    services = [s for s in (try_uuid(u) for u in service_uuids) if s is not None]
    companies = set(manufacturer_ids)
    best: tuple[int, bool, int, str] | None = None
    chosen: Fit | None = None
    for profile in _profiles(profiles):
        found = fit(profile, name, services, companies)
        if found is None:
            continue
        status = "community" if profile.own else profile.status
        key = (-found.strength, found.massager, _STATUS_RANK[status], profile.id)
        if best is None or key < best:
            best, chosen = key, found
    return chosen


def match_advertisement(
    profiles: Mapping[str, DeviceProfile] | Iterable[DeviceProfile],
    name: str | None,
    service_uuids: Iterable[str],
    manufacturer_ids: Iterable[int] = (),
) -> DeviceProfile | None:
    """The profile of the massager an advertisement shows, or None (see :func:`match_device`).

    A device a profile knows to be no massager gives None.
    """
    found = match_device(profiles, name, service_uuids, manufacturer_ids)
    return found.profile if found is not None and found.massager else None


def near_miss(
    profiles: Mapping[str, DeviceProfile] | Iterable[DeviceProfile],
    name: str | None,
    service_uuids: Iterable[str],
) -> str | None:
    """Why a device named like a profile's does not match it (it advertises another service)."""
    if not name:
        return None
    services = [s for s in (try_uuid(u) for u in service_uuids) if s is not None]
    for profile in _profiles(profiles):
        if any(fnmatchcase(name, g) for g in profile.match.names):
            others = ", ".join(short_uuid(s) for s in services if not is_standard_service(s))
            return f"named like {profile.id}, but advertises another service ({others})"
    return None
