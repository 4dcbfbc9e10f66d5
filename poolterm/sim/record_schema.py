"""The host and pool records as xe shows them: every field in xapi's record order
(`records.ml` host_record / pool_record), with its access, and what a freshly
installed XCP-ng 8.3 host would hold in it.

A field's value is a string, a map (printed ``k: v; k2: v2``) or a set (joined with
the field's separator); the access letter (``M``/``S``) says which.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from poolterm.sim.pooldb import HostRecord, PoolDB

NOT_IN_DATABASE = "<not in database>"
EXPENSIVE = "<expensive field>"

Value = str | dict[str, str] | list[str]


@dataclass(frozen=True)
class HostView:
    rec: HostRecord
    live: bool


@dataclass(frozen=True)
class PoolView:
    db: PoolDB


@dataclass(frozen=True)
class Field:
    name: str
    access: str
    get: Callable[[object], Value]
    expensive: bool = False
    deprecated: bool = False
    hidden: bool = False
    sep: str = "; "

    @property
    def is_map(self) -> bool:
        return self.access.startswith("M")

    def text(self, view: object) -> str:
        value = self.get(view)
        if isinstance(value, dict):
            return "; ".join(f"{k}: {v}" for k, v in value.items())
        if isinstance(value, list):
            return self.sep.join(value)
        return value

    def as_map(self, view: object) -> dict[str, str]:
        value = self.get(view)
        return value if isinstance(value, dict) else {}


def _b(x: bool) -> str:
    return "true" if x else "false"


SOFTWARE_VERSION = {
    "product_version": "8.3.0",
    "product_version_text": "8.3",
    "product_version_text_short": "8.3",
    "platform_name": "XCP",
    "platform_version": "3.4.0",
    "product_brand": "XCP-ng",
    "build_number": "cloud",
    "git_id": "0",
    "hostname": "localhost",
    "date": "20241002T13:47:26Z",
    "dbv": "2024.0927",
    "xapi": "24.19",
    "xapi_build": "24.19.2",
    "xen": "4.17.5-3",
    "linux": "4.19.0+1",
    "xencenter_min": "2.21",
    "xencenter_max": "2.21",
    "network_backend": "openvswitch",
    "db_schema": "5.781",
}
CPU_INFO = {
    "cpu_count": "16",
    "socket_count": "1",
    "threads_per_core": "2",
    "vendor": "GenuineIntel",
    "speed": "2394.454",
    "modelname": "Intel(R) Xeon(R) CPU E5-2630 v3 @ 2.40GHz",
    "family": "6",
    "model": "63",
    "stepping": "2",
}
MEMORY_TOTAL = "68654809088"
MEMORY_FREE = "60124180480"
MEMORY_OVERHEAD = "679477248"


def _host_other_config(v: HostView) -> dict[str, str]:
    return {"iscsi_iqn": _iqn(v), "multipathing": "false"}


def _iqn(v: HostView) -> str:
    return f"iqn.2024-10.lab.local:{v.rec.uuid[:8]}"


HOST_FIELDS: tuple[Field, ...] = (
    Field("uuid", "RO", lambda v: v.rec.uuid),
    Field("name-label", "RW", lambda v: v.rec.name_label),
    Field("name-description", "RW", lambda v: v.rec.name_description),
    Field("allowed-operations", "SRO", lambda v: ["VM.migrate", "provision", "VM.resume", "evacuate", "VM.start"]),
    Field("current-operations", "SRO", lambda v: []),
    Field("enabled", "RO", lambda v: _b(v.rec.enabled)),
    Field("display", "RO", lambda v: "enabled"),
    Field("API-version-major", "RO", lambda v: "2"),
    Field("API-version-minor", "RO", lambda v: "21"),
    Field("API-version-vendor", "RO", lambda v: "XenSource"),
    Field("API-version-vendor-implementation", "MRO", lambda v: {}),
    Field("logging", "MRW", lambda v: {}),
    Field("suspend-image-sr-uuid", "RW", lambda v: v.rec.local_sr_uuid),
    Field("crash-dump-sr-uuid", "RW", lambda v: v.rec.local_sr_uuid),
    Field("software-version", "MRO", lambda v: {**SOFTWARE_VERSION, "hostname": v.rec.hostname}),
    Field("capabilities", "SRO", lambda v: ["xen-3.0-x86_64", "hvm-3.0-x86_32", "hvm-3.0-x86_32p", "hvm-3.0-x86_64"]),
    Field("other-config", "MRW", _host_other_config),
    Field("cpu_info", "MRO", lambda v: CPU_INFO),
    Field("chipset-info", "MRO", lambda v: {"iommu": "true"}),
    Field("hostname", "RO", lambda v: v.rec.hostname),
    Field("address", "RO", lambda v: v.rec.address),
    Field("https-only", "RW", lambda v: "false"),
    Field("supported-bootloaders", "SRO", lambda v: ["pygrub", "eliloader"]),
    Field("blobs", "RO", lambda v: ""),
    Field("memory-overhead", "RO", lambda v: MEMORY_OVERHEAD),
    Field("memory-total", "RO", lambda v: MEMORY_TOTAL),
    Field("memory-free", "RO", lambda v: MEMORY_FREE),
    Field("memory-free-computed", "RO", lambda v: MEMORY_FREE, expensive=True),
    Field("host-metrics-live", "RO", lambda v: _b(v.live)),
    Field("patches", "SRO", lambda v: [], deprecated=True, sep=", "),
    Field("updates", "SRO", lambda v: [], sep=", "),
    Field("ha-statefiles", "RO", lambda v: ""),
    Field("ha-network-peers", "RO", lambda v: ""),
    Field("external-auth-type", "RO", lambda v: ""),
    Field("external-auth-service-name", "RO", lambda v: ""),
    Field("external-auth-configuration", "MRO", lambda v: {}),
    Field("edition", "RO", lambda v: "xcp-ng"),
    Field("license-server", "MRO", lambda v: {"address": "localhost", "port": "27000"}),
    Field("power-on-mode", "RO", lambda v: ""),
    Field("power-on-config", "MRO", lambda v: {}),
    Field("local-cache-sr", "RO", lambda v: NOT_IN_DATABASE),
    Field("tags", "SRW", lambda v: [], sep=", "),
    Field("ssl-legacy", "RW", lambda v: "false"),
    Field("guest_VCPUs_params", "MRW", lambda v: {}),
    Field("virtual-hardware-platform-versions", "SRO", lambda v: ["0", "1", "2"]),
    Field("control-domain-uuid", "RO", lambda v: v.rec.dom0_uuid),
    Field("resident-vms", "SRO", lambda v: [v.rec.dom0_uuid]),
    Field("updates-requiring-reboot", "SRO", lambda v: []),
    Field("features", "SRO", lambda v: []),
    Field("iscsi_iqn", "RW", _iqn),
    Field("multipathing", "RW", lambda v: "false"),
    Field("uefi-certificates", "RW", lambda v: "", hidden=True),
    Field("pending-guidances", "RO", lambda v: ""),
    Field("tls-verification-enabled", "RO", lambda v: "true"),
    Field("last-software-update", "RO", lambda v: "20241015T09:12:40Z"),
)

POOL_FIELDS: tuple[Field, ...] = (
    Field("uuid", "RO", lambda v: v.db.pool_uuid),
    Field("name-label", "RW", lambda v: v.db.name_label),
    Field("name-description", "RW", lambda v: v.db.name_description),
    Field("master", "RO", lambda v: v.db.master_uuid if v.db.master_uuid in v.db else NOT_IN_DATABASE),
    Field("default-SR", "RW", lambda v: v.db.default_sr_uuid),
    Field("crash-dump-SR", "RW", lambda v: v.db.default_sr_uuid),
    Field("suspend-image-SR", "RW", lambda v: v.db.default_sr_uuid),
    Field(
        "supported-sr-types",
        "RO",
        lambda v: "lvm; ext; nfs; iso; lvmoiscsi; lvmohba; cifs; udev; dummy; file; smb; zfs; hba; iscsi",
        expensive=True,
    ),
    Field("other-config", "MRW", lambda v: {"memory-ratio-hvm": "0.25", "memory-ratio-pv": "0.25"}),
    Field(
        "allowed-operations",
        "SRO",
        lambda v: ["cluster_create", "designate_new_master"] + ([] if v.db.ha_enabled else ["ha_enable"]),
    ),
    Field("current-operations", "SRO", lambda v: []),
    Field("ha-enabled", "RO", lambda v: _b(v.db.ha_enabled)),
    Field("ha-configuration", "RO", lambda v: dict(v.db.ha_configuration)),
    Field("ha-statefiles", "RO", lambda v: "; ".join(v.db.ha_statefiles)),
    Field("ha-host-failures-to-tolerate", "RW", lambda v: str(v.db.ha_host_failures_to_tolerate)),
    # No VMs to place: the plan covers every failure asked for, while HA is on.
    Field("ha-plan-exists-for", "RO", lambda v: str(v.db.ha_host_failures_to_tolerate) if v.db.ha_enabled else "0"),
    Field("ha-allow-overcommit", "RW", lambda v: "false"),
    Field("ha-overcommitted", "RO", lambda v: "false"),
    Field("blobs", "RO", lambda v: ""),
    Field("wlb-url", "RO", lambda v: ""),
    Field("wlb-username", "RO", lambda v: ""),
    Field("wlb-enabled", "RW", lambda v: "false"),
    Field("wlb-verify-cert", "RW", lambda v: "false"),
    Field("igmp-snooping-enabled", "RW", lambda v: "false"),
    Field("gui-config", "MRW", lambda v: {}),
    Field("health-check-config", "MRW", lambda v: {}),
    Field("vswitch-controller", "RO", lambda v: "<not set>", hidden=True),
    Field("restrictions", "RO", lambda v: {"restrict_ha": "false", "restrict_pool_size": "false"}),
    Field("tags", "SRW", lambda v: [], sep=", "),
    Field("license-state", "RO", lambda v: {"edition": "xcp-ng", "expiry": "never"}),
    Field("ha-cluster-stack", "RO", lambda v: "xhad"),
    Field("guest-agent-config", "MRW", lambda v: {}),
    Field("cpu_info", "MRO", lambda v: {"cpu_count": "16", "socket_count": "1", "vendor": "GenuineIntel"}),
    Field("policy-no-vendor-device", "RW", lambda v: "false"),
    Field("live-patching-disabled", "RW", lambda v: "false"),
    Field("uefi-certificates", "RW", lambda v: "", hidden=True),
    Field("tls-verification-enabled", "RO", lambda v: "true"),
    Field("client-certificate-auth-enabled", "RO", lambda v: "false"),
    Field("client-certificate-auth-name", "RO", lambda v: ""),
    Field("repositories", "SRW", lambda v: [], sep=", "),
    Field("repository-proxy-url", "RO", lambda v: ""),
    Field("repository-proxy-username", "RO", lambda v: ""),
    Field("https-only", "RW", lambda v: "false"),
    Field("migration-compression", "RW", lambda v: "false"),
    Field("coordinator-bias", "RW", lambda v: "true"),
    Field("telemetry-frequency", "RO", lambda v: "weekly"),
    Field("telemetry-next-collection", "RO", lambda v: "19700101T00:00:00Z"),
)

HOST_LIST_DEFAULT = ("uuid", "name-label", "name-description")
POOL_LIST_DEFAULT = ("uuid", "name-label", "name-description", "master", "default-SR")
