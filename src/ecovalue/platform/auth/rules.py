"""Pure authorization rules: roles, the signed-in principal and district scoping.

Scoping is checked in services (never only in routes): a district official reads unpublished
data and writes only inside their district; a department reporter writes only their
department's reports. Region codes are Chinese administrative codes, so a district's
townships share its code as prefix (420102 → 420102001).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from ecovalue.platform.errors import PermissionDenied


class Role(StrEnum):
    """The five roles of the platform."""

    administrator = "administrator"
    department_reporter = "department_reporter"
    district_official = "district_official"
    analyst = "analyst"
    public = "public"


ROLES_READING_ALL_UNPUBLISHED = frozenset({Role.administrator, Role.analyst})
REVIEWER_ROLES = frozenset({Role.administrator, Role.analyst})


@dataclass(frozen=True)
class Principal:
    """Who is acting: username, role, scope (district code or department) and organization."""

    username: str
    role: Role
    district_code: str | None = None
    department: str | None = None
    organization: str | None = None  # the company or bank the account acts for

    def __rich__(self) -> str:
        scope = self.district_code or self.department or "all"
        return f"[bold]{self.username}[/bold] ({self.role.value}, scope {scope})"


SYSTEM = Principal("system", Role.administrator)


def in_district(region_code: str, district_code: str) -> bool:
    """True when ``region_code`` is the district itself or one of its sub-units."""
    return region_code == district_code or region_code.startswith(district_code)


def can_read_unpublished(p: Principal, region_code: str) -> bool:
    """Administrators and analysts read everything; district officials their district only."""
    if p.role in ROLES_READING_ALL_UNPUBLISHED:
        return True
    if p.role == Role.district_official and p.district_code:
        return in_district(region_code, p.district_code)
    return False


def require_read_unpublished(p: Principal, region_code: str) -> None:
    """Raise :class:`PermissionDenied` unless ``p`` may read unpublished data of the region."""
    if not can_read_unpublished(p, region_code):
        raise PermissionDenied(
            f"user '{p.username}' ({p.role.value}"
            f"{', district ' + p.district_code if p.district_code else ''}) may not read "
            f"unpublished data of region {region_code}"
        )


def require_register_write(p: Principal, region_code: str) -> None:
    """Administrators write anywhere; district officials only inside their district."""
    if p.role == Role.administrator:
        return
    if (
        p.role == Role.district_official
        and p.district_code
        and in_district(region_code, p.district_code)
    ):
        return
    raise PermissionDenied(
        f"user '{p.username}' ({p.role.value}) may not change the register for region "
        f"{region_code}; only administrators and that district's officials may"
    )


def require_role(p: Principal, allowed: frozenset[Role] | set[Role], action: str) -> None:
    """Raise :class:`PermissionDenied` unless ``p.role`` is one of ``allowed``."""
    if p.role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed))
        raise PermissionDenied(
            f"user '{p.username}' ({p.role.value}) may not {action}; roles allowed: {names}"
        )


def validate_scope(role: Role, district_code: str | None, department: str | None) -> list[str]:
    """Problems with a role/scope combination for a new account (empty when fine)."""
    problems = []
    if role == Role.district_official and not district_code:
        problems.append("a district_official needs a district code (e.g. 420102)")
    if role == Role.department_reporter and not department:
        problems.append("a department_reporter needs a department (e.g. 'forestry')")
    if role == Role.department_reporter and not district_code:
        problems.append("a department_reporter needs the district code it reports for")
    return problems


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(proxies: Sequence[str]) -> tuple[IpNetwork, ...]:
    """The configured proxy addresses or CIDR networks, parsed."""
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def client_address(peer: str, forwarded_for: Sequence[str], trusted: Sequence[IpNetwork]) -> str:
    """The address a request comes from, for rate limits and logs.

    ``X-Forwarded-For`` is believed only when the connecting peer is a configured proxy;
    then the list is read from the right (the hop nearest to us) and the first address that
    is not itself a trusted proxy is the client. Anyone else's header is ignored, so a
    client cannot choose its own address (MDN "X-Forwarded-For: Selecting an IP address").
    """
    peer_ip = _ip(peer)
    if peer_ip is None or not any(peer_ip in net for net in trusted):
        return peer
    hops = [h for header in forwarded_for for h in header.split(",") if h.strip()]
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            return peer  # a malformed hop: believe nothing left of it
        if not any(ip in net for net in trusted):
            return str(ip)
    return str(_ip(hops[0])) if hops else peer


def require_self_or_admin(p: Principal, username: str, action: str) -> None:
    """Raise :class:`PermissionDenied` unless ``p`` is ``username`` or an administrator."""
    if p.role != Role.administrator and p.username != username:
        raise PermissionDenied(
            f"user '{p.username}' may not {action} of '{username}'; only that user or an "
            "administrator may"
        )
