"""Subnet layout of the VPC: pure arithmetic shared by settings validation and the network.

The CIDR is split into 16 equal slots; public subnets take slots 0..5 and private subnets
slots 8..13, one per AZ. The layout does not depend on the AZ count, so adding an AZ later
never renumbers (and so never replaces) an existing subnet.
"""

from __future__ import annotations

import ipaddress

SLOT_BITS = 4
PRIVATE_OFFSET = 8
MAX_AZS = 6
# An ALB subnet must be /27 or larger (8 free addresses); AWS VPCs are /16 to /28.
MAX_SUBNET_PREFIX = 27
MIN_VPC_PREFIX = 16


def subnet_prefix(cidr: str) -> int:
    return ipaddress.ip_network(cidr).prefixlen + SLOT_BITS


def layout(cidr: str, az_count: int) -> tuple[list[str], list[str]]:
    """Public and private subnet CIDRs for `az_count` AZs, in AZ order."""
    if not 1 <= az_count <= MAX_AZS:
        raise ValueError(f"az_count must be 1..{MAX_AZS} (got {az_count})")
    slots = list(ipaddress.ip_network(cidr).subnets(prefixlen_diff=SLOT_BITS))
    public = [str(slots[i]) for i in range(az_count)]
    private = [str(slots[PRIVATE_OFFSET + i]) for i in range(az_count)]
    return public, private
